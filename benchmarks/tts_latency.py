"""Text-to-speech latency: cold and warm synthesis of short prompts, cache hits, and
throughput from concurrent callers. Prints p50/p95 in milliseconds.

    python benchmarks/tts_latency.py [--repeats 20] [--threads 8] [--json]

cold  = first utterance of a new process (includes loading espeak-ng and its voice list)
warm  = espeak-ng loaded; each utterance may use any voice/rate/pitch
cache = CachingTTS memory hit (what fixed prompts cost after their first use)
phone = warm synthesis plus conversion to 8 kHz mu-law (what a call actually sends)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voicebot.tts.cache import CachingTTS  # noqa: E402
from voicebot.tts.pyttsx3 import Pyttsx3TTS, telephone_mulaw  # noqa: E402

PROMPTS = [
    "Thanks for calling Acme. How can I help you today?",
    "Please say or enter your order number.",
    "One moment while I look that up.",
    "Your order has shipped and will arrive on Tuesday.",
    "Let me transfer you to an agent.",
]


def percentiles(samples_s: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 4), "p95_ms": round(p95, 4)}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cold_start(repeats: int) -> dict:
    """First-utterance time in fresh processes (espeak-ng initialises once per process)."""
    code = ("import time; from voicebot.tts.pyttsx3 import Pyttsx3TTS; s = time.perf_counter(); "
            f"Pyttsx3TTS().synthesize({PROMPTS[0]!r}); print(time.perf_counter() - s)")
    root = Path(__file__).resolve().parent.parent
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout)
             for _ in range(max(3, repeats // 4))]
    return percentiles(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    results = {}
    tts = Pyttsx3TTS()
    try:
        results["cold"] = cold_start(args.repeats)
        warm, phone, audio_s = [], [], []
        for i in range(args.repeats):
            text = PROMPTS[i % len(PROMPTS)]
            start = time.perf_counter()
            audio = tts.synthesize(text)
            warm.append(time.perf_counter() - start)
            telephone_mulaw(audio)
            phone.append(time.perf_counter() - start)
            audio_s.append(audio.duration_s)
        results["warm"] = percentiles(warm)
        results["phone"] = percentiles(phone)
        results["real_time_factor_warm"] = round(sum(warm) / sum(audio_s), 4)

        cache = CachingTTS(tts)
        for text in PROMPTS:
            cache.synthesize(text)
        results["cache_hit"] = percentiles([timed(lambda t=PROMPTS[i % len(PROMPTS)]: cache.synthesize(t))
                                           for i in range(args.repeats * 50)])

        # throughput: N threads, distinct texts (no cache), default setting + a calm setting
        jobs = [(f"{PROMPTS[i % len(PROMPTS)]} Reference {i}.", 165 if i % 2 else 140) for i in range(args.threads * 6)]
        for rate in (140, 165):  # warm both settings so this measures steady state
            tts.synthesize("warm up", rate=rate)
        start = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            audios = list(pool.map(lambda job: tts.synthesize(job[0], rate=job[1]), jobs))
        elapsed = time.perf_counter() - start
        spoken = sum(a.duration_s for a in audios)
        results["concurrent"] = {"threads": args.threads, "utterances": len(jobs),
                                 "utterances_per_s": round(len(jobs) / elapsed, 1),
                                 "audio_s_per_wall_s": round(spoken / elapsed, 1)}
    finally:
        tts.close()

    if args.json:
        print(json.dumps(results))
        return
    for name in ("cold", "warm", "phone", "cache_hit"):
        r = results[name]
        print(f"{name:10} p50 {r['p50_ms']:9.3f} ms   p95 {r['p95_ms']:9.3f} ms   (n={r['n']})")
    print(f"warm real-time factor: {results['real_time_factor_warm']}")
    c = results["concurrent"]
    print(f"concurrent: {c['threads']} threads, {c['utterances']} utterances, {c['utterances_per_s']} utt/s, "
          f"{c['audio_s_per_wall_s']} s of speech per second")


if __name__ == "__main__":
    main()
