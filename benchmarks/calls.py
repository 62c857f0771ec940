"""Call latency benchmark: 1, 10 and 20 concurrent simulated phone calls over the real Twilio path.

    python benchmarks/calls.py                                # natural callers at 1, 10, 20
    python benchmarks/calls.py --concurrency 10 --calls 20 --script demo

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
    parser.add_argument("--vad", choices=["silero", "webrtc"], default=None)
    parser.add_argument("--end-silence", type=float, default=None)
    parser.add_argument("--tag", default="", help="suffix of the saved JSON file")
    args = parser.parse_args()
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    for concurrency in args.concurrency:
        tuning = {k: v for k, v in (("vad_engine", args.vad), ("end_silence_s", args.end_silence)) if v is not None}
        result = run_calls(concurrency, args.calls or concurrency, args.url, args.stagger, tuning, args.script)
        print(format_report(result), flush=True)
        path = out_dir / f"calls-{args.script}-{concurrency}{'-' + args.tag if args.tag else ''}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"saved {path}\n", flush=True)


if __name__ == "__main__":
    main()
