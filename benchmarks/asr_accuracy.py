"""ASR accuracy and speed on telephone-quality real speech.

Open speech: every read_speech_en sentence converted to 8 kHz G.711 mu-law (as a phone line
delivers it), word error rate (jiwer, Whisper's English text normaliser on both sides) and
real-time factor (decode time / audio time) per backend.
Digits: FSDD spoken digits, held-out takes 20-49 (takes 5-19 were used for tuning), decoded
with the digit grammar as a survey score is asked (a quick decode counts only if it is one
digit); accuracy = the whole output equals the spoken digit.
Order numbers: 4-digit numbers said by one FSDD speaker (held-out takes, 0.15-0.35 s between
digits, as ``audio_fixtures/order_*.wav`` but never the same takes), decoded as open speech the
way the demo flow asks for them (a quick decode counts only if it is a complete answer); accuracy = the digits read (``spoken_digits``) equal the number.

Run: OMP_NUM_THREADS=1 python benchmarks/asr_accuracy.py [--backends auto,whisper,pocketsphinx]
     [--digit-stride 1] [--orders 60] [--orders-seed 7] [--full-window] [--json]
     python benchmarks/asr_accuracy.py --telephone-cmn   (prints pocketsphinx's 8 kHz CMN prior)
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import jiwer  # noqa: E402
import numpy as np  # noqa: E402

from voicebot.actions import Listen  # noqa: E402
from voicebot.asr import grammar as grammars  # noqa: E402
from voicebot.asr.registry import load_asr  # noqa: E402
from voicebot.audio.codecs import ulaw_decode, ulaw_encode  # noqa: E402
from voicebot.audio.wavfile import read_wav  # noqa: E402
from voicebot.errors import VoicebotError  # noqa: E402
from voicebot.session.completeness import answer_test  # noqa: E402
from voicebot.testing.datasets import shared_datasets_dir

DATASETS = shared_datasets_dir()
ONE_DIGIT = Listen(grammar="digits", max_digits=1, complete_when="digits")  # as a survey score is asked
ORDER_NUMBER = Listen(grammar=None, max_digits=4, complete_when="digits")  # as the demo flow's ask_order asks
HELD_OUT_TAKES = range(20, 50)


def telephone(path: Path) -> np.ndarray:
    """The recording as a phone line delivers it: 8 kHz, through G.711 mu-law."""
    return ulaw_decode(ulaw_encode(read_wav(path).at_rate(8000).pcm))


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def open_speech(asr, normalizer) -> dict:
    rows = list(csv.DictReader(open(DATASETS / "read_speech_en" / "manifest.csv")))
    refs, hyps, times, audio_s = [], [], [], 0.0
    for row in rows:
        pcm = telephone(DATASETS / "read_speech_en" / row["path"])
        start = time.perf_counter()
        result = asr.transcribe(pcm, 8000)
        times.append(time.perf_counter() - start)
        audio_s += len(pcm) / 8000
        refs.append(normalizer(row["transcript"]))
        hyps.append(normalizer(result.text))
    p50, p95 = percentiles(times)
    return {"utterances": len(rows), "wer": jiwer.wer(refs, hyps), "rtf": sum(times) / audio_s, "decode_p50_s": p50, "decode_p95_s": p95}


def digits(asr, stride: int) -> dict:
    rows = [r for r in csv.DictReader(open(DATASETS / "fsdd_digits" / "manifest.csv")) if int(Path(r["path"]).stem.split("_")[2]) in HELD_OUT_TAKES][::stride]
    grammar = grammars.digits()
    correct, times, audio_s, errors = 0, [], 0.0, {}
    for row in rows:
        pcm = read_wav(DATASETS / "fsdd_digits" / row["path"]).pcm
        start = time.perf_counter()
        text = asr.transcribe(pcm, 8000, grammar, accept=answer_test(ONE_DIGIT)).text
        times.append(time.perf_counter() - start)
        audio_s += len(pcm) / 8000
        expected = grammars.DIGIT_WORDS[int(row["label"])]
        correct += text == expected
        if text != expected:
            errors[f"{expected}->{text or '(nothing)'}"] = errors.get(f"{expected}->{text or '(nothing)'}", 0) + 1
    p50, p95 = percentiles(times)
    top = dict(sorted(errors.items(), key=lambda kv: -kv[1])[:6])
    return {"utterances": len(rows), "accuracy": correct / len(rows), "rtf": sum(times) / audio_s, "decode_p50_s": p50, "decode_p95_s": p95, "top_errors": top}


def order_numbers(asr, count: int, seed: int = 7) -> dict:
    from voicebot.flows.slots import spoken_digits

    rng = np.random.default_rng(seed)
    correct, times, errors = 0, [], []
    for i in range(count):
        number = "".join(str(d) for d in rng.integers(0, 10, 4))
        speaker = ("jackson", "nicolas")[i % 2]
        parts = [np.zeros(1600, dtype=np.int16)]
        for d in number:
            take = int(rng.choice(HELD_OUT_TAKES))
            parts += [read_wav(DATASETS / "fsdd_digits" / "wav" / f"{d}_{speaker}_{take}.wav").pcm,
                      np.zeros(int(rng.uniform(0.15, 0.35) * 8000), dtype=np.int16)]
        pcm = ulaw_decode(ulaw_encode(np.concatenate(parts)))
        start = time.perf_counter()
        text = asr.transcribe(pcm, 8000, accept=answer_test(ORDER_NUMBER)).text
        times.append(time.perf_counter() - start)
        correct += spoken_digits(text) == number
        if spoken_digits(text) != number and len(errors) < 6:
            errors.append(f"{number}->{text!r}")
    p50, p95 = percentiles(times)
    return {"utterances": count, "accuracy": correct / count, "decode_p50_s": p50, "decode_p95_s": p95, "errors": errors}


def telephone_cmn() -> str:
    """pocketsphinx's running cepstral mean after RAVDESS sentences (every 8th, not FSDD)
    through 8 kHz mu-law and the streaming upsampler: ``TELEPHONE_CMN`` in pocketsphinx.py."""
    from voicebot.asr.pocketsphinx import PocketsphinxASR
    from voicebot.audio.upsample import StreamingUpsampler

    asr = PocketsphinxASR(pool_size=1)
    pooled = asr._acquire()
    decoder = pooled.decoder
    decoder.activate_search(asr._search_for(pooled, grammars.digits()))
    root = DATASETS / "emotional_speech_ravdess"
    for row in list(csv.DictReader(open(root / "manifest.csv")))[::8]:
        decoder.start_utt()
        decoder.process_raw(StreamingUpsampler().process(telephone(root / row["path"])).tobytes(), False, False)
        decoder.end_utt()
    return ",".join(f"{float(v):.2f}" for v in decoder.get_cmn().split(","))


def main() -> int:
    parser = argparse.ArgumentParser(description="ASR WER/RTF and digit accuracy per backend")
    parser.add_argument("--backends", default="auto,whisper,pocketsphinx", help="comma-separated; vosk needs models/vosk-en-us-small")
    parser.add_argument("--digit-stride", type=int, default=1, help="use every Nth held-out digit file (1 = all 600)")
    parser.add_argument("--full-window", action="store_true", help="Whisper: always decode on the full 30 s window (no quick pass), for comparison")
    parser.add_argument("--orders", type=int, default=60, help="4-digit order numbers to decode as open speech (0: skip)")
    parser.add_argument("--orders-seed", type=int, default=7, help="which order numbers (7: the set the quick pass was tuned on; 11: a check set)")
    parser.add_argument("--skip-open", action="store_true")
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--telephone-cmn", action="store_true", help="print pocketsphinx's 8 kHz CMN prior and exit")
    args = parser.parse_args()
    if args.telephone_cmn:
        print(telephone_cmn())
        return 0
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    normalizer = EnglishTextNormalizer({})
    results = []
    for name in args.backends.split(","):
        try:
            asr = load_asr(name)
            if args.full_window and name == "whisper":
                from voicebot.asr.whisper import WhisperASR

                asr = WhisperASR(window_pad_s=None)
        except VoicebotError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
            continue
        row = {"backend": name + (" (full window)" if args.full_window and name == "whisper" else "")}
        if not args.skip_open:
            row["open"] = open_speech(asr, normalizer)
        if not args.skip_digits:
            row["digits"] = digits(asr, args.digit_stride)
        if args.orders:
            row["orders"] = order_numbers(asr, args.orders, args.orders_seed)
        results.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        print(f"{'backend':14}{'WER':>7}{'RTF':>7}{'p50 s':>8}{'p95 s':>8} | {'digits':>7}{'RTF':>7}{'p50 s':>8}{'p95 s':>8}  n")
        for row in results:
            o, d = row.get("open", {}), row.get("digits", {})
            fmt = lambda r, k, f: format(r[k], f) if k in r else "-"
            print(f"{row['backend']:14}{fmt(o, 'wer', '7.3f'):>7}{fmt(o, 'rtf', '7.3f'):>7}{fmt(o, 'decode_p50_s', '8.2f'):>8}{fmt(o, 'decode_p95_s', '8.2f'):>8} | "
                  f"{fmt(d, 'accuracy', '7.1%'):>7}{fmt(d, 'rtf', '7.3f'):>7}{fmt(d, 'decode_p50_s', '8.2f'):>8}{fmt(d, 'decode_p95_s', '8.2f'):>8}  {d.get('utterances', '-')}")
            if d.get("top_errors"):
                print(f"{'':14}digit errors: {d['top_errors']}")
            if "orders" in row:
                r = row["orders"]
                print(f"{'':14}order numbers (open speech): {r['accuracy']:.1%} of {r['utterances']}, decode p50 {r['decode_p50_s']:.2f} s, "
                      f"p95 {r['decode_p95_s']:.2f} s; errors: {r['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
