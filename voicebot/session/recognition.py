"""Recognition of caller speech for one call, and the one mapping from a flow's ``Listen`` to
what the recogniser is asked.

``grammar_for`` and ``open_stream`` are used by live calls and by conversation tests alike
(``voicebot.testing.conversations``), so a scenario hears the way a call hears: the same
grammar (digits, yes/no, phrases, JSGF files), the same fallback to open speech when a
backend rejects a grammar, the same answer test for quick decodes.

``CallRecognizer`` is the turn worker's side of one call (single-threaded): the stream of the
utterance being captured, early decodes while endpointing still waits, and the final result.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import numpy as np

from voicebot.actions import Listen
from voicebot.asr.base import ASR, Grammar, Recognition, RecognitionStream
from voicebot.errors import RecogniserSaturatedError, VoicebotError
from voicebot.session.completeness import answer_test

log = logging.getLogger(__name__)

EARLY_DECODE_WAIT_S = 0.3  # an early decode waits this long for a free slot, then is skipped
SATURATED_RETRIES = 2  # a refused final decode is tried again this often (each waits for a free worker)


def grammar_for(spec) -> Grammar | None:
    """The recognition grammar of a ``Listen.grammar``: None (open speech), "digits", "yesno",
    a tuple of phrases, or a path to a JSGF file."""
    from voicebot.asr import grammar

    if spec is None:
        return None
    if spec == "digits":
        return grammar.digits()
    if spec == "yesno":
        return grammar.yesno()
    if isinstance(spec, (tuple, list)):
        return grammar.phrases(spec)
    return grammar.load(spec)


def grammar_label(listen: Listen | None) -> str | None:
    """How a turn's grammar is named in its record: None, "digits", "yesno", a file, or "phrases"."""
    spec = listen.grammar if listen is not None else None
    return spec if isinstance(spec, (str, type(None))) else "phrases"


def backend_for(asr: ASR, grammar: Grammar | None) -> ASR:
    """The recogniser that decodes ``grammar`` (resolves ``AutoASR``'s routing)."""
    route = getattr(asr, "backend_for", None)
    return route(grammar) if route else asr


def backend_name(asr: ASR, grammar: Grammar | None) -> str:
    return backend_for(asr, grammar).name


def open_stream(asr: ASR, listen: Listen | None, call_sid: str = "-") -> tuple[RecognitionStream, Grammar | None]:
    """A stream for one utterance answering ``listen``; open speech when the grammar cannot be used."""
    try:
        grammar = grammar_for(listen.grammar) if listen is not None else None
        return asr.stream(8000, grammar), grammar
    except Exception as exc:  # e.g. a grammar the backend rejects: fall back to open speech
        log.warning("call %s: cannot recognise with grammar %r (%s); using open vocabulary", call_sid, listen and listen.grammar, exc)
        return asr.stream(8000, None), None


def recognize(asr: ASR, pcm: np.ndarray, listen: Listen | None) -> Recognition:
    """A whole utterance (8 kHz int16) answering ``listen``, as a live call would decode it at its end."""
    stream, _ = open_stream(asr, listen)
    stream.accept(np.asarray(pcm, dtype=np.int16))
    return stream.finish(answer_test(listen))


class CallRecognizer:
    """The recognition side of one call. ``early_slots`` is shared by all calls: early decodes
    are wasted work when the caller goes on, so they must not queue ahead of real ones."""

    def __init__(self, asr: ASR, early_slots: threading.BoundedSemaphore, call_sid: str = "-"):
        self.asr = asr
        self.early_slots = early_slots
        self.call_sid = call_sid
        self.listen: Listen | None = None
        self._stream: RecognitionStream | None = None
        self._grammar: Grammar | None = None
        self._early: tuple[float, Recognition] | None = None  # (last voiced time, final early result)

    def open(self, listen: Listen | None) -> None:
        self.listen, self._early = listen, None
        self._stream, self._grammar = open_stream(self.asr, listen, self.call_sid)

    def feed(self, pcm: np.ndarray) -> None:
        if self._stream is not None:
            self._stream.accept(pcm)

    def drop(self) -> None:
        self._stream = None

    def early_decode(self, pcm: np.ndarray, last_voiced_s: float, listen: Listen | None, thorough: bool,
                     stale) -> Recognition | None:
        """Decode the utterance so far when the recogniser only decodes at the end (streaming
        ones already keep up); the final result, kept for ``finish``, or None. The first early
        decode of a pause is quick only (a draft that is not an answer is dropped); a
        ``thorough`` one (later in the pause, more audio of silence behind the words) is the
        decode the end of the turn would run, and runs only when the quick one left no final result. ``stale()`` says
        whether the caller went on while this decode waited for a slot."""
        if self._stream is None:
            return None
        backend = backend_for(self.asr, self._grammar)
        if not backend.decodes_at_finish:
            return None  # a streaming recogniser keeps up as the caller speaks
        if backend.busy:
            return None  # every worker is taken: a speculative decode would hold up callers' real ones
        if thorough and self._early is not None and self._early[0] == last_voiced_s:
            return None  # the quick decode of this pause was final already
        if not self.early_slots.acquire(timeout=EARLY_DECODE_WAIT_S):
            return None  # other calls' early decodes are queued already
        try:
            if stale():
                return None
            stream = self.asr.stream(8000, self._grammar)
            stream.accept(pcm)
            # the later decode of a pause is the one the end of the turn would run ("auto")
            recognition = stream.finish(answer_test(listen), passes="auto" if thorough else "quick")
        except VoicebotError as exc:  # the regular decode at the end still happens
            log.info("call %s: early decode skipped: %s", self.call_sid, exc)
            return None
        finally:
            self.early_slots.release()
        if not recognition.is_final:
            return None
        self._early = (last_voiced_s, recognition)
        return recognition

    def finish(self, audio: np.ndarray, last_speech_at_s: float, hold: Callable[[], None] = lambda: None) -> tuple[Recognition, bool]:
        """The utterance's final result, and whether it is an early decode (nothing was said after
        it). When every recogniser worker is busy the caller hears ``hold()`` (a holding phrase)
        and the whole utterance (``audio``) is tried again, up to ``SATURATED_RETRIES`` times."""
        early, self._early = self._early, None
        stream, self._stream = self._stream, None
        if early is not None and early[0] == last_speech_at_s:
            return early[1], True
        if stream is None:
            return Recognition("", 0.0), False
        accept = answer_test(self.listen)
        try:
            try:
                return stream.finish(accept), False
            except RecogniserSaturatedError:
                hold()
            for attempt in range(SATURATED_RETRIES):
                try:
                    return self.asr.transcribe(audio, 8000, self._grammar, accept=accept), False
                except RecogniserSaturatedError as exc:
                    if attempt == SATURATED_RETRIES - 1:
                        raise
                    log.warning("call %s: recognisers still saturated: %s", self.call_sid, exc)
        except VoicebotError as exc:  # saturated for good, timed out, failed: the flow hears "not understood"
            log.error("call %s: recognition failed: %s", self.call_sid, exc)
            return Recognition("", 0.0, backend="failed"), False
        return Recognition("", 0.0, backend="failed"), False
