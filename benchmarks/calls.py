"""Call latency benchmark: 1, 10 and 20 concurrent simulated phone calls over the real Twilio path.

    python benchmarks/calls.py                                # natural callers at 1, 10, 20
    python benchmarks/calls.py --separate                     # the server in its own process (voicebot serve)
    python benchmarks/calls.py --concurrency 10 --calls 20 --script demo

``--separate`` starts ``voicebot serve`` (gunicorn, as deployed) with its own data folder and a
local Twilio REST stand-in, so the simulated callers do not share the server's interpreter; the
server's CPU and memory (its recogniser workers included) are measured from outside.

Same as ``voicebot bench calls``; this script runs the configurations docs/latency.md reports
and writes their JSON to ``var/bench/calls-<script>-<concurrency>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicebot.cli.bench import format_report  # noqa: E402
from voicebot.testing.load import run_calls  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 10, 20])
    parser.add_argument("--calls", type=int, default=None, help="calls per run (default: the concurrency)")
    parser.add_argument("--url", default="", help="a running server (default: in-process)")
    parser.add_argument("--stagger", type=float, default=0.3, help="seconds between call starts")
    parser.add_argument("--script", choices=["natural", "demo"], default="natural")
    parser.add_argument("--vad", choices=["silero", "webrtc", "gated"], default=None)
    parser.add_argument("--end-silence", type=float, default=None)
    parser.add_argument("--separate", action="store_true", help="start `voicebot serve` in its own process and call it")
    parser.add_argument("--tag", default="", help="suffix of the saved JSON file")
    args = parser.parse_args()
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    server = SeparateServer() if args.separate else None
    try:
        for concurrency in args.concurrency:
            tuning = {k: v for k, v in (("vad_engine", args.vad), ("end_silence_s", args.end_silence)) if v is not None}
            usage = server.usage() if server else None
            result = run_calls(concurrency, args.calls or concurrency, server.url if server else args.url, args.stagger, tuning,
                               args.script, rest_standin=server.standin if server else None)
            if server:
                result.update(server.usage_since(usage, concurrency, result["wall_s"], result["calls_ok"]))
            _save(result, out_dir / f"calls-{args.script}-{concurrency}{'-separate' if server else ''}{'-' + args.tag if args.tag else ''}.json")
    finally:
        if server:
            server.stop()


def _save(result: dict, path: Path) -> None:
    print(format_report(result), flush=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {path}\n", flush=True)


class SeparateServer:
    """``voicebot serve`` on a free port with a fresh data folder, its REST calls to a local stand-in."""

    def __init__(self):
        import socket
        import subprocess
        import tempfile
        import time
        import urllib.request

        from voicebot.config import load_settings
        from voicebot.testing.rest_standin import RestStandin

        settings = load_settings()
        self.standin = RestStandin(settings.twilio_account_sid, settings.twilio_auth_token)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, VOICEBOT_DATA_DIR=tempfile.mkdtemp(prefix="voicebot-bench-"), VOICEBOT_TWILIO_API_URL=self.standin.url)
        self.process = subprocess.Popen([sys.executable, "-m", "voicebot.cli.main", "serve", "--port", str(port)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(1)
        self.stop()
        raise SystemExit("voicebot serve did not become ready within 10 minutes")

    def _processes(self):
        import psutil

        root = psutil.Process(self.process.pid)
        return [root] + root.children(recursive=True)

    def usage(self) -> dict:
        """CPU seconds so far of the server and its children (gunicorn workers, recogniser workers)."""
        return {p.pid: sum(p.cpu_times()[:2]) for p in self._processes()}

    def usage_since(self, before: dict, concurrency: int, wall_s: float, calls: int) -> dict:
        processes = self._processes()
        cpu = sum(sum(p.cpu_times()[:2]) - before.get(p.pid, 0.0) for p in processes)
        rss = sum(p.memory_info().rss for p in processes) / 2**20
        return {"cpu_percent_of_one_core": round(100 * cpu / wall_s, 1), "cpu_s_per_call": round(cpu / max(1, calls), 1),
                "rss_mb": round(rss, 1), "rss_mb_per_call": round(rss / concurrency, 1)}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except Exception:
            self.process.kill()
        self.standin.stop()


if __name__ == "__main__":
    main()
