"""How long a real call waits while one client holds idle media sockets (issue 12's attack),
on the production server: gunicorn with gthread workers.

The app runs with EchoSession as the bot (no models: the numbers are the server's, not the
recogniser's). Before each real call one client opens ``--idle`` media sockets and sends
nothing; then the call is placed as Twilio would: the signed voice webhook, the media stream
with its token, and the wait for the greeting's first audio frame. Reported: the voice
webhook's time (Twilio gives up at 15 s) and the greeting's (webhook sent -> first frame), p50
and p95. ``--no-gate`` runs the same server as it was before issue 12 (no limit on sockets
waiting for their ``start``, no start deadline): the webhook waits for the idle sockets' idle
timeout.

    python benchmarks/idle_sockets.py [--idle 64] [--threads 64] [--calls 10] [--no-gate] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import p50_p95  # noqa: E402

from voicebot.security.signatures import sign  # noqa: E402
from voicebot.testing.rest_standin import RestStandin  # noqa: E402

ACCOUNT_SID, AUTH_TOKEN = "AC" + "4" * 32, "bench-auth-token"
APP = textwrap.dedent("""
    import os
    from voicebot.config import Settings
    from voicebot.testing.echo_session import EchoSession
    from voicebot.web.app import create_app

    settings = Settings(data_dir=os.environ["VB_DATA"], twilio_account_sid=os.environ["VB_SID"],
                        twilio_auth_token=os.environ["VB_TOKEN"], twilio_api_base_url=os.environ["VB_REST"],
                        stream_start_timeout_s=float(os.environ["VB_START_S"]), max_waiting_streams=int(os.environ["VB_WAITING"]))
    app = create_app(settings, session_factory=EchoSession)
""")


def start_server(folder: Path, threads: int, gate: bool, rest_url: str) -> tuple[subprocess.Popen, str]:
    (folder / "echo_app.py").write_text(APP)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, VB_DATA=str(folder / "var"), VB_SID=ACCOUNT_SID, VB_TOKEN=AUTH_TOKEN, VB_REST=rest_url,
               VB_WAITING=str(max(1, threads // 4) if gate else 10_000), VB_START_S="5" if gate else "600",
               PYTHONPATH=os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", str(threads),
                                "--workers", "1", "--graceful-timeout", "3", "--bind", f"127.0.0.1:{port}", "echo_app:app"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def hold_idle(media_url: str, count: int) -> list:
    if count == 0:
        return []

    def one(_):
        try:
            return websocket.create_connection(media_url, timeout=60)
        except (websocket.WebSocketException, OSError):
            return None

    with ThreadPoolExecutor(count) as pool:
        return [ws for ws in pool.map(one, range(count)) if ws is not None]


def place_call(url: str) -> tuple[float, float]:
    """(webhook ms, greeting ms) of one call placed as Twilio places it."""
    call_sid = "CA" + secrets.token_hex(16)
    params = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+15550009999", "To": "+15550001234",
              "CallStatus": "ringing", "Direction": "inbound"}
    started = time.perf_counter()
    answer = requests.post(url + "/twilio/voice", data=params, timeout=60,
                           headers={"X-Twilio-Signature": sign(url + "/twilio/voice", params, AUTH_TOKEN)})
    webhook_ms = (time.perf_counter() - started) * 1000
    stream = ET.fromstring(answer.text).find("Connect/Stream")
    custom = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    ws = websocket.create_connection(stream.get("url"), timeout=60)
    try:
        ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ" + "1" * 32,
                            "start": {"streamSid": "MZ" + "1" * 32, "callSid": call_sid, "accountSid": ACCOUNT_SID,
                                      "tracks": ["inbound"], "customParameters": custom,
                                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
        while json.loads(ws.recv()).get("event") != "media":
            pass
        return webhook_ms, (time.perf_counter() - started) * 1000
    finally:
        ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=64, help="idle sockets the attacker holds before each call")
    parser.add_argument("--threads", type=int, default=64, help="gunicorn threads (voicebot serve's default)")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--no-gate", action="store_true", help="the server as it was before issue 12")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    standin = RestStandin(ACCOUNT_SID, AUTH_TOKEN)
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(Path(tmp), args.threads, not args.no_gate, standin.url)
        webhook, greeting = [], []
        try:
            for _ in range(args.calls):
                idle = hold_idle(url.replace("http://", "ws://") + "/twilio/media", args.idle)
                try:
                    w, g = place_call(url)
                finally:
                    for ws in idle:
                        ws.close()
                webhook.append(w)
                greeting.append(g)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
            standin.stop()
    result = {"gate": not args.no_gate, "idle_sockets": args.idle, "threads": args.threads, "calls": args.calls,
              "webhook_ms": p50_p95(webhook), "greeting_ms": p50_p95(greeting)}
    print(json.dumps(result) if args.json else
          f"{'with' if result['gate'] else 'WITHOUT'} the gate, {args.idle} idle sockets, {args.threads} threads, "
          f"{args.calls} calls: voice webhook p50 {result['webhook_ms']['p50']} ms p95 {result['webhook_ms']['p95']} ms; "
          f"greeting p50 {result['greeting_ms']['p50']} ms p95 {result['greeting_ms']['p95']} ms")


if __name__ == "__main__":
    main()
