"""``BufferedStream``: the stream of a recogniser that decodes a whole utterance at once.

It collects the audio fed to it and calls ``decode(pcm, accept, passes)`` once, at
``finish()`` (Whisper, Moonshine, the cascade and the worker pool all decode this way).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from voicebot.asr.base import ASR, Grammar, Passes, Recognition, RecognitionStream
from voicebot.errors import ASRError

def check_stream(asr: ASR, sample_rate: int, grammar: Grammar | None) -> None:
    """Raise ``ASRError`` unless ``asr`` takes ``sample_rate`` audio (8 or 16 kHz) under ``grammar``."""
    if sample_rate not in (8000, 16000):
        raise ASRError(f"{asr.name} streams take 8000 or 16000 Hz audio, not {sample_rate} Hz")
    if not asr.supports_grammar(grammar):
        raise ASRError(f"{asr.name} cannot enforce a {grammar.kind} grammar; use pocketsphinx or vosk")


Decode = Callable[[np.ndarray, "Callable[[str], bool] | None", Passes], Recognition]


class BufferedStream(RecognitionStream):
    """Buffers int16 PCM; ``finish`` decodes it with ``decode`` (one stream, one utterance)."""

    def __init__(self, decode: Decode):
        self._decode = decode
        self._chunks: list[np.ndarray] = []
        self._closed = False

    def accept(self, pcm: np.ndarray) -> Recognition | None:
        if self._closed:
            raise ASRError("stream already finished")
        self._chunks.append(np.asarray(pcm, dtype=np.int16))
        return None

    def finish(self, accept: Callable[[str], bool] | None = None, passes: Passes = "auto") -> Recognition:
        if self._closed:
            raise ASRError("stream already finished")
        self._closed = True
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        self._chunks = []
        return self._decode(pcm, accept, passes)
