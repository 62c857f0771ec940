"""What the Twilio channel itself costs: webhook + Media Stream + pacing, without models.

Runs concurrent simulated calls (real server on a random port, real WebSocket, caller audio
paced in real time) against ``EchoSession``, which replies a fixed ``reply_after_s`` after the
caller stops and at once to a key. Prints p50/p95 of:
- speech turn latency minus the echo's fixed wait (channel overhead on a speech turn),
- key -> first reply frame (channel round trip),
- key pressed during a prompt -> ``clear`` received (barge-in transport).
The whole-pipeline latency benchmark is ``benchmarks/calls.py`` (``voicebot bench calls``).

    python benchmarks/twilio_channel.py --concurrency 1 --calls 5
    python benchmarks/twilio_channel.py --concurrency 10 --calls 20
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from voicebot.config import Settings
from voicebot.testing.echo_session import EchoSession, tone
from voicebot.testing.live_server import LiveServer
from voicebot.testing.rest_standin import RestStandin
from voicebot.testing.twilio_sim import Keys, Speech, TwilioSimulator
from voicebot.web.app import create_app

ACCOUNT, TOKEN = "AC" + "3" * 32, "bench-token"
REPLY_AFTER_S = 0.3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:40s} no samples"
    return f"{name:40s} n={len(values):3d}  p50={percentile(values, .5):7.1f} ms  p95={percentile(values, .95):7.1f} ms  max={max(values):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()

    standin = RestStandin(ACCOUNT, TOKEN)
    settings = Settings(data_dir=tempfile.mkdtemp(prefix="vb-bench-"), twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN,
                        twilio_api_base_url=standin.url)
    app = create_app(settings, session_factory=lambda sid, io, state: EchoSession(sid, io, state, reply_after_s=REPLY_AFTER_S))
    speech = Speech(np.concatenate([tone(300, 1.0, 6000), np.zeros(1600, np.int16)]), "tone")
    overhead, keys, clears = [], [], []
    baseline = threading.active_count()
    with LiveServer(app) as server:
        def one_call(_):
            sim = TwilioSimulator(server.url, auth_token=TOKEN, account_sid=ACCOUNT, listen_quiet_s=0.3)
            return sim.call([Keys("6", interrupt=True), speech, Keys("4")])

        started = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            for result in pool.map(one_call, range(args.calls)):
                bargein, speech_turn, key_turn = result.turns
                if speech_turn.latency_ms is not None:
                    overhead.append(speech_turn.latency_ms - 1000 * REPLY_AFTER_S)
                if key_turn.latency_ms is not None:
                    keys.append(key_turn.latency_ms)
                if bargein.clear_ms is not None:
                    clears.append(bargein.clear_ms)
        wall = time.monotonic() - started
    standin.stop()
    time.sleep(0.5)
    print(f"twilio channel: {args.calls} calls, {args.concurrency} concurrent, {wall:.1f} s wall")
    print(summary("speech turn overhead (latency - 300 ms)", overhead))
    print(summary("key -> first reply frame", keys))
    print(summary("key during the greeting -> clear", clears))
    print(f"threads after the run: {threading.active_count()} (before: {baseline})")


if __name__ == "__main__":
    main()
