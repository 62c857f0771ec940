"""The cascade's off-grammar rule, measured on the choose split (docs/asr.md, "Off-grammar sentences").

Every open sentence of the choose split (RAVDESS every 4th clip + read_speech_en 1-20) is
decoded at a yes/no question, with the rule and without it (``OFF_GRAMMAR_MIN_WORDS`` out of
reach): how many sentences are heard as a yes/no answer, how many reach Whisper, and the decode
time. Both routes must hear the same answers; only the cost may differ.

Run: OMP_NUM_THREADS=1 python benchmarks/asr_offgrammar.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import asr_sets as sets  # noqa: E402

from voicebot.asr import cascade as cascade_module  # noqa: E402
from voicebot.asr import grammar as grammars  # noqa: E402
from voicebot.asr.registry import load_asr  # noqa: E402


def decode_all(asr, items, grammar) -> list[tuple[str, str, float]]:
    """(text, backend, seconds) per item."""
    out = []
    for item in items:
        start = time.perf_counter()
        result = asr.transcribe(item.pcm, 8000, grammar)
        out.append((result.text, result.backend, time.perf_counter() - start))
    return out


def main() -> int:
    asr = load_asr("cascade")
    sentences = sets.ravdess(4) + sets.read_speech()[:20]
    runs = {}
    for label, min_words in (("without the rule", 10**6), ("with the rule", cascade_module.OFF_GRAMMAR_MIN_WORDS)):
        saved, cascade_module.OFF_GRAMMAR_MIN_WORDS = cascade_module.OFF_GRAMMAR_MIN_WORDS, min_words
        try:
            runs[label] = decode_all(asr, sentences, grammars.yesno())
        finally:
            cascade_module.OFF_GRAMMAR_MIN_WORDS = saved
        times = sorted(t for _, _, t in runs[label])
        print(f"{label}: {sum(1 for text, _, _ in runs[label] if text)} of {len(sentences)} heard as yes/no, "
              f"{sum(1 for _, backend, _ in runs[label] if backend == 'whisper')} reached Whisper, "
              f"decode p50 {times[len(times) // 2]:.2f} s, p95 {times[int(len(times) * 0.95)]:.2f} s")
    changed = [item.name for item, a, b in zip(sentences, *runs.values()) if a[0] != b[0]]
    print(f"answers that differ between the routes: {len(changed)} {changed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
