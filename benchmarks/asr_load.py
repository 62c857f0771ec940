"""Recogniser latency under concurrent callers: in-process backends against the worker pool.

``--callers`` threads each decode ``--turns`` utterances one after another (a short pause
between turns), as concurrent calls hand finished utterances to the recogniser: recorded
sentences (read_speech_en) and 4-digit strings (FSDD) decoded with the order prompt's answer
test, mixed half and half. Reported per backend: decode latency p50/p95 from ``finish()`` to
the result (queueing included), decodes refused (saturated or overloaded), timeouts, and the
CPU time of this process (the pool's workers are other processes).
Times are wall clock on a shared 2-core machine: run it twice, and compare backends within
one run only.

Run: OMP_NUM_THREADS=1 python benchmarks/asr_load.py --backends whisper,cascade,pool:cascade --callers 10 --turns 6
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import asr_sets as sets  # noqa: E402
from voicebot.asr.base import RecogniserSaturatedError, RecognitionTimeoutError  # noqa: E402
from voicebot.asr.evaluation import exactly  # noqa: E402
from voicebot.asr.registry import load_asr  # noqa: E402
from voicebot.errors import ASRError  # noqa: E402


def utterances(count: int) -> list[tuple[np.ndarray, bool]]:
    """(8 kHz audio, is a digit string) alternating sentences and 4-digit strings."""
    sentences = sets.read_speech()
    strings = sets.digit_strings(sets.SPEAKERS, sets.REPORT_TAKES, count, seed=5)
    return [(sentences[i % len(sentences)].pcm, False) if i % 2 else (strings[i].pcm, True) for i in range(count)]


def run(asr, callers: int, turns: int, pause_s: float) -> dict:
    work = utterances(callers * turns)
    latencies, refused, timeouts, lock = [], 0, 0, threading.Lock()

    def caller(index: int) -> None:
        nonlocal refused, timeouts
        for turn in range(turns):
            pcm, digits = work[index * turns + turn]
            stream = asr.stream(8000)
            stream.accept(pcm)
            start = time.perf_counter()
            try:
                stream.finish(accept=exactly(4) if digits else None)
                with lock:
                    latencies.append(time.perf_counter() - start)
            except RecogniserSaturatedError:
                with lock:
                    refused += 1
            except RecognitionTimeoutError:
                with lock:
                    timeouts += 1
            except ASRError:  # e.g. the in-process Whisper's own "overloaded" refusal
                with lock:
                    refused += 1
            time.sleep(pause_s)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for i, t in enumerate(threads):
        t.start()
        time.sleep(0.3)  # callers arrive 0.3 s apart
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall0
    p50, p95 = (float(np.percentile(latencies, q)) for q in (50, 95)) if latencies else (None, None)
    return {"decodes": len(latencies), "refused": refused, "timeouts": timeouts, "latency_p50_s": p50, "latency_p95_s": p95,
            "wall_s": round(wall, 1), "cpu_s_this_process": round(time.process_time() - cpu0, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description="recogniser latency under concurrent callers")
    parser.add_argument("--backends", default="whisper,cascade,pool:cascade")
    parser.add_argument("--callers", type=int, default=10)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between one caller's turns")
    args = parser.parse_args()
    for name in args.backends.split(","):
        asr = load_asr(name)
        asr.transcribe(sets.read_speech()[0].pcm, 8000)  # warm
        row = {"backend": name, "callers": args.callers, **run(asr, args.callers, args.turns, args.pause)}
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
