"""The speech-recognition interface every backend implements.

A recogniser is loaded once (models are big) and shared; each utterance gets its own
``RecognitionStream``: feed int16 PCM frames, read partial results, then ``finish()`` for
the final ``Recognition``. Backends: ``VoskASR``, ``WhisperASR``, ``MoonshineASR``,
``PocketsphinxASR``; wrappers: ``CascadeASR`` (a fast first pass, a slower second when the
first is not good enough), ``ProcessPoolASR`` (decodes in worker processes), ``AutoASR``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from voicebot.errors import RecogniserSaturatedError, RecognitionTimeoutError  # noqa: F401 (part of this interface)


Passes = Literal["auto", "quick", "thorough"]  # which decodes ``RecognitionStream.finish`` may run


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float
    confidence: float = 1.0


@dataclass(frozen=True)
class Recognition:
    """What a recogniser heard. ``text`` is lower-case words, '' when nothing was recognised."""

    text: str
    confidence: float
    is_final: bool = True
    words: tuple[Word, ...] = ()
    backend: str = ""
    decode_s: float = 0.0


@dataclass(frozen=True)
class Grammar:
    """A constraint on what can be recognised.

    ``kind`` is ``"digits"``, ``"yesno"``, ``"phrases"`` (``phrases`` lists them) or
    ``"jsgf"`` (``jsgf`` holds the grammar text). ``None`` grammar means open vocabulary.
    """

    kind: str
    phrases: tuple[str, ...] = field(default_factory=tuple)
    jsgf: str = ""


class RecognitionStream(ABC):
    """One utterance being recognised. Not thread-safe; one per utterance."""

    @abstractmethod
    def accept(self, pcm: np.ndarray) -> Recognition | None:
        """Feed int16 PCM at the stream's sample rate; return a partial result if one is ready."""

    @abstractmethod
    def finish(self, accept: Callable[[str], bool] | None = None, passes: Passes = "auto") -> Recognition:
        """End of utterance: return the final result.

        For a recogniser with a quick and a thorough decode (Whisper): ``accept`` tells whether
        a text is a usable answer (say, four digits for an order number); with ``passes`` =
        "auto" the quick result is returned when it passes, else the thorough one; "quick"
        never runs the thorough decode and returns a quick result that failed with
        ``is_final=False`` (a draft: an early look at an utterance, never its answer);
        "thorough" skips the quick decode. Streaming recognisers have one final result and
        ignore both."""


class ASR(ABC):
    """A loaded speech recogniser, shareable across calls (thread-safe to open streams)."""

    name: str = "asr"
    decodes_at_finish: bool = False  # buffered (decodes only at finish): worth an early decode in a pause

    @property
    def busy(self) -> bool:
        """True when a decode started now would wait for others to finish first (a worker pool
        with no idle worker). The session skips speculative decodes then: they would delay
        callers' real ones."""
        return False

    @abstractmethod
    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        """Open a stream for one utterance at ``sample_rate`` Hz, optionally constrained."""

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        """Whether this backend can enforce ``grammar`` (open vocabulary always works)."""
        return grammar is None

    def transcribe(self, pcm: np.ndarray, sample_rate: int, grammar: Grammar | None = None, hints: tuple[str, ...] = (),
                   accept: Callable[[str], bool] | None = None) -> Recognition:
        """Recognise a whole utterance at once (``accept``: see ``RecognitionStream.finish``)."""
        stream = self.stream(sample_rate, grammar, hints)
        stream.accept(np.asarray(pcm, dtype=np.int16))
        return stream.finish(accept)
