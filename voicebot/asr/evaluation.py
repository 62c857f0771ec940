"""Scoring a recogniser on recorded speech: WER, digit-string accuracy, decode latency.

Used by ``voicebot bench asr`` (a call center's own recordings, listed in a CSV manifest) and
the ASR benchmarks. WER uses Whisper's English text normaliser on both sides (numbers and
spellings compare equal: "1480s" and "fourteen eighties"). A sample whose transcript is only
digits ("4172", "four one seven two") is a digit string: it counts as right when the digits
read equal the digits said, and it is decoded as a flow asks for a number of that length
(an answer test of exactly that many digits, ``finish(accept=...)``).
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from voicebot.asr import grammar as grammars
from voicebot.asr.base import ASR
from voicebot.audio.wavfile import read_wav
from voicebot.errors import AudioError, ConfigError


@dataclass(frozen=True)
class Sample:
    """One recording at 8 kHz (as the bot hears a phone line) and what was said."""

    name: str
    pcm: np.ndarray
    transcript: str


def read_manifest(path: str | Path) -> list[Sample]:
    """Samples listed in a CSV with the columns ``path`` (relative to the CSV's folder or
    absolute) and ``transcript``. Raises ``ConfigError``/``AudioError`` naming the row and why."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read the manifest ({exc})") from exc
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["path", "transcript"]:
        raise ConfigError(f"{path}: row 1 must be the header 'path,transcript'")
    samples = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise ConfigError(f"{path}: row {number} has {len(row)} columns, expected 2 (path,transcript; quote a transcript with commas)")
        audio_path, transcript = (Path(row[0].strip()), row[1].strip())
        if not transcript:
            raise ConfigError(f"{path}: row {number} has an empty transcript")
        audio_path = audio_path if audio_path.is_absolute() else path.parent / audio_path
        try:
            audio = read_wav(audio_path)
        except AudioError as exc:
            raise AudioError(f"{path}: row {number}: {exc}") from exc
        samples.append(Sample(str(audio_path), audio.at_rate(8000).pcm, transcript))
    if not samples:
        raise ConfigError(f"{path}: the manifest lists no recordings")
    return samples


def digits_of(text: str) -> str | None:
    """The digits of ``text`` if it says nothing but digits ("4172", "four one seven two"), else None."""
    if not grammars.only_digits(text):
        return None
    return "".join(str(grammars.DIGIT_WORDS.index(w)) for w in grammars.normalize(text, grammars.digits()).split())


def digits_read(text: str) -> str:
    """Every digit read in ``text``, in order ("my number is 4 1 seven 2" -> "4172")."""
    return "".join(str(grammars.DIGIT_WORDS.index(w)) for w in grammars.normalize(text, grammars.digits()).split())


def exactly(count: int) -> Callable[[str], bool]:
    """An answer test: the text reads exactly ``count`` digits."""
    return lambda text: len(digits_read(text)) == count


def evaluate(asr: ASR, samples: list[Sample], advance: Callable[[], None] = lambda: None) -> dict:
    """Decode every sample once; WER, digit-string accuracy, decode p50/p95 and the misses."""
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer
    import jiwer

    normalize = EnglishTextNormalizer({})
    refs, hyps, times, digit_hits, digit_total, misses = [], [], [], 0, 0, []
    for sample in samples:
        expected = digits_of(sample.transcript)
        start = time.perf_counter()
        result = asr.transcribe(sample.pcm, 8000, accept=exactly(len(expected)) if expected else None)
        times.append(time.perf_counter() - start)
        refs.append(normalize(sample.transcript))
        hyps.append(normalize(result.text))
        if expected:
            digit_total += 1
            digit_hits += digits_read(result.text) == expected
        if refs[-1] != hyps[-1]:
            misses.append({"file": sample.name, "said": sample.transcript, "heard": result.text})
        advance()
    nonempty = [(r, h) for r, h in zip(refs, hyps) if r]
    wer = jiwer.wer([r for r, _ in nonempty], [h for _, h in nonempty]) if nonempty else None
    return {"backend": asr.name, "files": len(samples), "wer": None if wer is None else round(wer, 4),
            "digit_strings": digit_total, "digit_accuracy": round(digit_hits / digit_total, 4) if digit_total else None,
            "decode_p50_s": round(float(np.percentile(times, 50)), 3), "decode_p95_s": round(float(np.percentile(times, 95)), 3),
            "misses": misses}
