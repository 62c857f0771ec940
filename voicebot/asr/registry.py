"""``load_asr(name)``: the one way to get a recogniser, cached per process.

Names: ``auto`` (default; see ``auto.py``), ``whisper``, ``moonshine``, ``cascade`` (Moonshine
first, Whisper when needed), ``pocketsphinx``, ``vosk`` (English Vosk model from
``models/vosk-en-us-small``), ``vosk:PATH`` for any Vosk model directory, and ``pool:NAME``:
NAME decoded in worker processes (``workers.ProcessPoolASR``; the workers read the settings
from the environment).
Engine errors are translated to ``voicebot.errors`` here.
"""
from __future__ import annotations

import threading

from voicebot.asr import models
from voicebot.asr.base import ASR
from voicebot.config import load_settings
from voicebot.errors import ASRError, ModelNotFoundError, VoicebotError

BACKENDS = ("auto", "vosk", "whisper", "moonshine", "cascade", "pocketsphinx")
ENGLISH_VOSK = "vosk-en-us-small"
# Routes measured with benchmarks/asr_accuracy.py on the choose split (docs/asr.md): the cascade
# (Moonshine first, Whisper when needed) is at least as accurate as Whisper alone on sentences,
# digits, digit strings and menu phrases, and most turns never reach Whisper; only pocketsphinx
# (and Vosk) can enforce an arbitrary JSGF grammar.
CASCADE_KINDS = ("open", "digits", "yesno", "phrases")

_cache: dict[tuple, ASR] = {}
_lock = threading.RLock()


def auto_choice(settings=None) -> dict[str, str]:
    """Which backend ``auto`` uses for open speech (``"open"``) and for each grammar kind: the
    cascade, in ``asr_workers`` worker processes when that is above 0 (an English Vosk model,
    when installed, for open speech); JSGF grammars in pocketsphinx."""
    settings = settings or load_settings()
    cascade = "pool:cascade" if settings.asr_workers > 0 else "cascade"
    routes = {kind: cascade for kind in CASCADE_KINDS}
    if models.installed(ENGLISH_VOSK, settings):
        routes["open"] = "vosk"
    return {**routes, "jsgf": "pocketsphinx"}


def load_asr(name: str = "auto", settings=None) -> ASR:
    """A loaded recogniser for ``name`` (one instance per name and models folder per process)."""
    settings = settings or load_settings()
    key = (name, settings.models_dir)
    with _lock:
        if key not in _cache:
            _cache[key] = create(name, settings)
        return _cache[key]


def create(name: str, settings=None, threads: int | None = None) -> ASR:
    """A new recogniser for ``name`` (not cached; ``load_asr`` is the shared one). ``threads``:
    CPU threads per decode (None: the backend's default; worker processes use 1)."""
    settings = settings or load_settings()
    try:
        if name == "auto":
            from voicebot.asr.auto import AutoASR

            return AutoASR(auto_choice(settings), lambda backend: load_asr(backend, settings))
        if name == "whisper":
            from voicebot.asr.whisper import WhisperASR

            return WhisperASR() if threads is None else WhisperASR(cpu_threads=threads)
        if name == "moonshine":
            from voicebot.asr.moonshine import MoonshineASR

            return MoonshineASR(threads=threads or 1)
        if name == "cascade":
            from voicebot.asr.cascade import CascadeASR
            from voicebot.asr.moonshine import MoonshineASR
            from voicebot.asr.whisper import WhisperASR

            return CascadeASR(MoonshineASR(threads=threads or 1), WhisperASR() if threads is None else WhisperASR(cpu_threads=threads))
        if name.startswith("pool:"):
            from voicebot.asr.workers import ProcessPoolASR

            return ProcessPoolASR(name[5:], workers=max(1, settings.asr_workers), timeout_s=settings.asr_timeout_s,
                                  nice=settings.asr_worker_nice)
        if name == "pocketsphinx":
            from voicebot.asr.pocketsphinx import PocketsphinxASR

            return PocketsphinxASR()
        if name == "vosk" or name.startswith("vosk:"):
            from voicebot.asr.vosk import VoskASR

            path = name[5:] if name.startswith("vosk:") else models.model_path(ENGLISH_VOSK, settings)
            if path is None:
                raise ModelNotFoundError(f"no English Vosk model installed; run `voicebot models download {ENGLISH_VOSK}` (needs internet) or unpack it into {models.models_dir(settings) / ENGLISH_VOSK}")
            return VoskASR(path)
    except VoicebotError:
        raise
    except Exception as exc:  # anything an engine throws while loading
        raise ASRError(f"cannot load the {name} recogniser: {exc}") from exc
    raise ASRError(f"unknown ASR backend {name!r}; choose one of {', '.join(BACKENDS)}, vosk:PATH or pool:NAME")
