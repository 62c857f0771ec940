"""``VoskASR``: Kaldi models through Vosk. Loads any Vosk model directory.

True streaming: every accepted frame is decoded at once and partial results come back from
``accept``. Grammars use Vosk's JSON phrase list (only models with a dynamic graph, i.e. the
"small" models and the Korean PyPI model, accept one; big models ignore it with a warning).
Vosk resamples internally, so 8 kHz telephone audio is passed as is.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from voicebot.asr import grammar as grammars
from voicebot.asr.base import ASR, Grammar, Recognition, RecognitionStream, Word
from voicebot.errors import ASRError, ModelNotFoundError


class VoskASR(ASR):
    """A loaded Vosk model (thread-safe to share; each stream gets its own recogniser)."""

    name = "vosk"

    def __init__(self, model_path: str | os.PathLike):
        path = Path(model_path)
        if not (path / "am").is_dir() and not (path / "final.mdl").exists():
            raise ModelNotFoundError(f"{path} is not a Vosk model directory (no am/ folder); run `voicebot models download vosk-en-us-small` or unpack a model from alphacephei.com/vosk/models there")
        try:
            import vosk
        except ImportError as exc:
            raise ASRError("vosk is not installed; run `pip install vosk`") from exc
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(path))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise ASRError(f"cannot load Vosk model at {path}: {exc}") from exc
        self._vosk = vosk
        self.model_path = path

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return True

    def missing_words(self, grammar: Grammar) -> list[str]:
        """Words of ``grammar`` the model's vocabulary lacks (Vosk ignores them, with a warning)."""
        words = {w for phrase in grammars.vocabulary(grammar) for w in phrase.split()}
        return sorted(w for w in words if self._model.vosk_model_find_word(w) < 0)

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        if sample_rate not in (8000, 16000):
            raise ASRError(f"Vosk streams take 8000 or 16000 Hz audio, not {sample_rate} Hz")
        try:
            if grammar is None:
                recognizer = self._vosk.KaldiRecognizer(self._model, float(sample_rate))
            else:
                phrases = list(grammars.vocabulary(grammar))
                if self._model.vosk_model_find_word("[unk]") >= 0:  # lets out-of-grammar speech read as nothing
                    phrases.append("[unk]")
                # ensure_ascii=False: Vosk matches words as UTF-8; escaped ("\\ub124") they are
                # all "missing in vocabulary" and a non-English grammar matches nothing
                recognizer = self._vosk.KaldiRecognizer(self._model, float(sample_rate), json.dumps(phrases, ensure_ascii=False))
            recognizer.SetWords(True)
        except Exception as exc:
            raise ASRError(f"Vosk could not open a recogniser: {exc}") from exc
        return _VoskStream(recognizer, grammar)


class _VoskStream(RecognitionStream):
    def __init__(self, recognizer, grammar: Grammar | None):
        self._rec, self._grammar = recognizer, grammar
        self._segments: list[dict] = []  # finished segments when Vosk's own endpointer fires
        self._decode_s = 0.0
        self._closed = False

    def accept(self, pcm: np.ndarray) -> Recognition | None:
        if self._closed:
            raise ASRError("stream already finished")
        start = time.perf_counter()
        if self._rec.AcceptWaveform(np.asarray(pcm, dtype=np.int16).tobytes()):
            self._segments.append(json.loads(self._rec.Result()))
            partial = " ".join(s.get("text", "") for s in self._segments)
        else:
            partial = " ".join([s.get("text", "") for s in self._segments] + [json.loads(self._rec.PartialResult()).get("partial", "")])
        self._decode_s += time.perf_counter() - start
        partial = grammars.normalize(partial.replace("[unk]", ""), self._grammar) if self._grammar else partial.strip()
        return Recognition(partial, 0.0, is_final=False, backend="vosk") if partial else None

    def finish(self, accept=None, passes="auto") -> Recognition:  # one final result: nothing to choose
        if self._closed:
            raise ASRError("stream already finished")
        self._closed = True
        start = time.perf_counter()
        self._segments.append(json.loads(self._rec.FinalResult()))
        words = tuple(
            Word(w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
            for s in self._segments for w in s.get("result", []) if w["word"] != "[unk]"
        )
        raw = " ".join(s.get("text", "") for s in self._segments).replace("[unk]", " ")
        text = grammars.normalize(raw, self._grammar) if self._grammar else " ".join(raw.split())
        confidence = float(np.mean([w.confidence for w in words])) if words and text else 0.0
        return Recognition(text, round(confidence, 4), words=words, backend="vosk", decode_s=self._decode_s + time.perf_counter() - start)
