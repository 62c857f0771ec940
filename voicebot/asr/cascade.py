"""``CascadeASR``: a fast first pass (Moonshine tiny) and a slower second (Whisper tiny.en)
only when the first is not good enough.

Every rule below was chosen by measurement on the choose split only (``benchmarks/asr_sets.py``;
figures in docs/asr.md):
- The first pass encodes the speech once. Its free reading is kept when it is a usable answer:
  ``accept(text)`` passes (the prompt's answer test, ``RecognitionStream.finish``) and its
  confidence (mean token probability) reaches ``min_confidence``.
- Digits are Moonshine's strength once it may only say digits (free decoding reads an isolated
  "five" as "bye", "four" as "or"): the digits grammar reads digits only whenever the free
  reading holds anything else. On open speech with an answer test, a free reading that fails
  it is read again as digits only, and that reading is kept when it passes the test and has
  as many digits as the free reading had words (the caller said digits, misheard as words;
  a sentence is never forced into a number).
- Open speech without an answer test (a sentence) stays with the first pass when it is at
  least ``open_confidence`` sure of it (WER 0.097 against Whisper's 0.110 alone on the choose
  sentences, 70% of them never reaching Whisper), else goes to Whisper.
- Everything else goes to the second pass, Whisper tiny.en (its own quick/full-window logic,
  no answer test: the thorough reading); on open speech, a Whisper reading that fails the
  answer test is read again with the digits grammar under the same rule as the first pass. ``passes="quick"`` never runs the second pass: a first
  reading that is not good enough comes back as a draft (``is_final=False``); "thorough" skips
  the first pass.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import numpy as np

from voicebot.asr import grammar as grammars
from voicebot.asr.base import ASR, Grammar, Passes, Recognition, RecognitionStream
from voicebot.asr.buffered import BufferedStream, check_stream
from voicebot.audio.resample import resample

MIN_CONFIDENCE = 0.8  # a first-pass answer (digits, yes/no, a menu choice) below this goes to Whisper
OPEN_CONFIDENCE = 0.85  # a sentence the first pass is less sure of goes to Whisper (docs/asr.md)
OFF_GRAMMAR_MIN_WORDS = 4  # a sure first-pass sentence this long that a yes/no or phrase grammar
# cannot map is "no answer" without asking Whisper (docs/asr.md, "Off-grammar sentences")


class CascadeASR(ASR):
    """``first`` (a ``MoonshineASR``) then, when needed, ``second`` (a ``WhisperASR``)."""

    name = "cascade"
    decodes_at_finish = True

    def __init__(self, first, second, min_confidence: float = MIN_CONFIDENCE, open_confidence: float = OPEN_CONFIDENCE):
        self.first, self.second = first, second
        self.min_confidence, self.open_confidence = min_confidence, open_confidence

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return self.first.supports_grammar(grammar) and self.second.supports_grammar(grammar)

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        check_stream(self, sample_rate, grammar)
        hints = tuple(hints)
        return BufferedStream(lambda pcm, accept, passes: self.decode(resample(pcm, sample_rate, 16000), grammar, hints, accept, passes))

    def decode(self, pcm16k: np.ndarray, grammar: Grammar | None = None, hints: tuple[str, ...] = (),
               accept: Callable[[str], bool] | None = None, passes: Passes = "auto") -> Recognition:
        """Recognise one 16 kHz utterance (see the module docstring for the route it takes)."""
        start = time.perf_counter()
        if passes == "thorough":
            return self.second.decode(pcm16k, grammar, hints, None, "auto")
        hidden = self.first.encode(pcm16k)
        if hidden is None:  # no speech: the second pass has the same gate
            return Recognition("", 0.0, backend=self.first.name, decode_s=time.perf_counter() - start)
        text, confidence, raw = self._first_reading(hidden, grammar, accept)
        first = Recognition(text, round(confidence, 4) if text else 0.0, backend=self.first.name, decode_s=time.perf_counter() - start)
        if self._good(first, grammar, accept) or self._sure_off_grammar(text, raw, confidence, grammar):
            return first
        if passes == "quick":
            return replace(first, is_final=False)
        second = self.second.decode(pcm16k, grammar, hints, None, "auto")
        if grammar is None and accept is not None and second.text and not accept(second.text):
            second = self._digits_if_they_answer(second, pcm16k, hints, accept)
        return replace(second, decode_s=time.perf_counter() - start)

    def _digits_if_they_answer(self, second: Recognition, pcm16k: np.ndarray, hints, accept) -> Recognition:
        """Whisper's digits-only reading when its free one failed the answer test, under the
        first pass's rule: it must pass and have as many digits as the free reading had words."""
        digits = self.second.decode(pcm16k, grammars.digits(), hints, None, "auto")
        if digits.text and len(digits.text.split()) == len(second.text.split()) and accept(digits.text):
            return digits
        return second

    def _first_reading(self, hidden: list, grammar: Grammar | None, accept) -> tuple[str, float, str]:
        """The first pass's answer, its confidence and its free reading."""
        raw, confidence = self.first.read(hidden)
        kind = grammar.kind if grammar is not None else None
        if kind == "digits" and not grammars.only_digits(raw, aliases=False):
            raw, confidence = self.first.read(hidden, digits_only=True)
        text = grammars.normalize(raw, grammar)
        if kind is None and accept is not None and text and not accept(text):
            digits, digits_confidence = self.first.read(hidden, digits_only=True)
            digits = grammars.normalize(digits, grammars.digits())
            if len(digits.split()) == len(text.split()) and accept(digits):
                return digits, digits_confidence, raw
        return text, confidence, raw

    def _sure_off_grammar(self, text: str, raw: str, confidence: float, grammar: Grammar | None) -> bool:
        """A yes/no or phrase question answered with a sentence the first pass is sure of
        (``open_confidence``, at least ``OFF_GRAMMAR_MIN_WORDS`` words) that holds no answer:
        Whisper would read the same sentence, at several times the cost, to find none either."""
        if text or grammar is None or grammar.kind not in ("yesno", "phrases"):
            return False
        return confidence >= self.open_confidence and len(grammars.normalize(raw, None).split()) >= OFF_GRAMMAR_MIN_WORDS

    def _good(self, first: Recognition, grammar: Grammar | None, accept) -> bool:
        """Whether the first-pass reading may stand as the answer."""
        if not first.text:
            return False
        if accept is not None:
            return first.confidence >= self.min_confidence and accept(first.text)
        if grammar is not None:
            return first.confidence >= self.min_confidence
        return first.confidence >= self.open_confidence
