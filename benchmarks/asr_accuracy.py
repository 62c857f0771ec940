"""ASR accuracy and decode time per backend on recorded speech at 8 kHz mu-law.

Sets and split: ``benchmarks/asr_sets.py``. ``--split choose`` is where every routing rule and
threshold of the recognisers was chosen; ``--split report`` is decoded once for docs/asr.md.
Each utterance is decoded the way the demo flow asks for it:
- digits: isolated FSDD digits with the digits grammar, answer test = one digit (a survey score);
- strings: 4-digit strings as open speech (``order``: answer test = 4 digits, as ``ask_order``)
  and with the digits grammar (``order-grammar``);
- sentences: read speech as open speech (no answer test); WER with Whisper's normaliser;
- menu (choose split only): RAVDESS's two statements as a phrase grammar, exact match.
Accuracy counts an utterance right when the digits read (``spoken_digits``, as the flow reads
them) equal the digits said. ``--out FILE.jsonl`` keeps every utterance's result.

Run: OMP_NUM_THREADS=1 python benchmarks/asr_accuracy.py --split report [--backends cascade,whisper,moonshine]
     [--sets digits,strings,sentences] [--strings 120] [--json] [--out results.jsonl]
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

import jiwer  # noqa: E402
import numpy as np  # noqa: E402

import asr_sets as sets  # noqa: E402
from voicebot.actions import Listen  # noqa: E402
from voicebot.asr import grammar as grammars  # noqa: E402
from voicebot.asr.base import Recognition  # noqa: E402
from voicebot.asr.registry import load_asr  # noqa: E402
from voicebot.errors import VoicebotError  # noqa: E402
from voicebot.flows.slots import spoken_digits  # noqa: E402
from voicebot.session.completeness import answer_test  # noqa: E402

ONE_DIGIT = Listen(grammar="digits", max_digits=1, complete_when="digits")  # as a survey score is asked
ORDER_NUMBER = Listen(grammar=None, max_digits=4, complete_when="digits")  # as the demo flow's ask_order asks


def task_sets(split: str, wanted: list[str], strings: int) -> dict[str, list]:
    """name -> (items, grammar, answer test or None, scored as digits?)."""
    takes = sets.CHOOSE_TAKES if split == "choose" else sets.REPORT_TAKES
    seed = 3 if split == "choose" else 11
    out = {}
    if "digits" in wanted:
        for speaker in sets.SPEAKERS:
            out[f"digits {speaker}"] = (sets.fsdd((speaker,), takes), grammars.digits(), answer_test(ONE_DIGIT), True)
    if "strings" in wanted:
        for speaker in sets.SPEAKERS:
            items = sets.digit_strings((speaker,), takes, strings // 2, seed + (speaker == "nicolas"))
            out[f"order {speaker}"] = (items, None, answer_test(ORDER_NUMBER), True)
            out[f"order-grammar {speaker}"] = (items, grammars.digits(), answer_test(ORDER_NUMBER), True)
        if split == "report":
            out["tidigits (CMU)"] = (sets.cmu_digits(), None, None, True)
    if "menu" in wanted and split == "choose":  # no held-out phrase set exists
        menu = grammars.phrases(["kids are talking by the door", "dogs are sitting by the door"])
        out["menu ravdess"] = (sets.ravdess(4), menu, None, "exact")
    if "sentences" in wanted:
        if split == "choose":
            out["ravdess"] = (sets.ravdess(4), None, None, False)
            out["read_speech_en 1-20"] = (sets.read_speech()[:20], None, None, False)
        else:
            out["read_speech_en 21-40"] = (sets.read_speech()[20:], None, None, False)
            out["cmu sentences"] = (sets.cmu_sentences(), None, None, False)
    return out


def run(asr, items, grammar, accept, as_digits, normalizer, log) -> dict:
    """Decode ``items``; ``as_digits``: True scores digits read, "exact" the whole text, False WER."""
    refs, hyps, times, right, routes, errors = [], [], [], 0, {}, []
    for item in items:
        start = time.perf_counter()
        try:
            result = asr.transcribe(item.pcm, 8000, grammar, accept=accept)
        except VoicebotError as exc:  # a pooled decode past its deadline (a hang) or refused: a miss
            result = Recognition("", 0.0, backend=type(exc).__name__)
        times.append(time.perf_counter() - start)
        routes[result.backend or "-"] = routes.get(result.backend or "-", 0) + 1
        if as_digits:
            ok = (result.text == item.transcript) if as_digits == "exact" else spoken_digits(result.text) == item.transcript
            right += ok
            if not ok and len(errors) < 8:
                errors.append(f"{item.name}: {result.text!r}")
        refs.append(normalizer(item.transcript))
        hyps.append(normalizer(result.text))
        if log:
            log.write(json.dumps({"name": item.name, "said": item.transcript, "heard": result.text, "confidence": result.confidence,
                                  "backend": result.backend, "decode_s": round(times[-1], 4)}) + "\n")
    row = {"n": len(items), "decode_p50_s": round(float(np.percentile(times, 50)), 3), "decode_p95_s": round(float(np.percentile(times, 95)), 3), "routes": routes}
    if as_digits:
        row |= {"accuracy": round(right / len(items), 4), "errors": errors}
    else:
        row |= {"wer": round(jiwer.wer(refs, hyps), 4)}
    return row


def telephone_cmn() -> str:
    """pocketsphinx's running cepstral mean after RAVDESS sentences (every 8th, not FSDD)
    through 8 kHz mu-law and the streaming upsampler: ``TELEPHONE_CMN`` in pocketsphinx.py."""
    from voicebot.asr.pocketsphinx import PocketsphinxASR
    from voicebot.audio.upsample import StreamingUpsampler

    asr = PocketsphinxASR(pool_size=1)
    pooled = asr._acquire()
    decoder = pooled.decoder
    decoder.activate_search(asr._search_for(pooled, grammars.digits()))
    for item in sets.ravdess(8):
        decoder.start_utt()
        decoder.process_raw(StreamingUpsampler().process(item.pcm).tobytes(), False, False)
        decoder.end_utt()
    return ",".join(f"{float(v):.2f}" for v in decoder.get_cmn().split(","))


def main() -> int:
    parser = argparse.ArgumentParser(description="ASR accuracy and decode time per backend (choose or report split)")
    parser.add_argument("--split", choices=["choose", "report"], required=False, default="choose")
    parser.add_argument("--backends", default="cascade,whisper,moonshine", help="comma-separated registry names")
    parser.add_argument("--sets", default="digits,strings,sentences", help="any of digits,strings,sentences,menu (menu: choose split only)")
    parser.add_argument("--strings", type=int, default=120, help="4-digit strings (half per speaker)")
    parser.add_argument("--out", help="write every utterance's result here (JSON lines)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--telephone-cmn", action="store_true", help="print pocketsphinx's 8 kHz CMN prior and exit")
    args = parser.parse_args()
    if args.telephone_cmn:
        print(telephone_cmn())
        return 0
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    normalizer = EnglishTextNormalizer({})
    tasks = task_sets(args.split, args.sets.split(","), args.strings)
    log = open(args.out, "w") if args.out else None
    for name in args.backends.split(","):
        try:
            asr = load_asr(name)
        except VoicebotError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
            continue
        for task, (items, grammar, accept, as_digits) in tasks.items():
            if not items or not asr.supports_grammar(grammar):
                continue
            if log:
                log.write(json.dumps({"backend": name, "task": task}) + "\n")
            row = {"backend": name, "split": args.split, "task": task, **run(asr, items, grammar, accept, as_digits, normalizer, log)}
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                score = f"accuracy {row['accuracy']:.1%}" if as_digits else f"WER {row['wer']:.3f}"
                print(f"{name:10} {task:26} n={row['n']:<4} {score:16} decode p50 {row['decode_p50_s']:.2f} s p95 {row['decode_p95_s']:.2f} s  "
                      f"routes {row['routes']}" + (f"\n{'':11}errors: {row['errors']}" if row.get("errors") else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
