"""The process's text-to-speech engine and delivery styles.

``load_tts()`` returns one shared engine per process: ``Pyttsx3TTS`` behind a ``CachingTTS``
(memory LRU plus a disk cache under ``<data_dir>/tts-cache``). ``delivery_for(style)`` says how
to speak: ``"calm"`` (for upset callers) is slower and lower-pitched than ``"normal"``.

    tts = load_tts()
    audio = tts.synthesize("I understand. Let me help.", **delivery_for("calm").as_kwargs())
    payload = telephone_mulaw(audio)
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from voicebot.config import Settings, load_settings
from voicebot.errors import TTSError
from voicebot.tts.base import TTS
from voicebot.tts.cache import CachingTTS
from voicebot.tts.pyttsx3 import DEFAULT_PITCH, DEFAULT_RATE, Pyttsx3TTS, telephone_audio, telephone_mulaw

__all__ = ["Delivery", "STYLES", "delivery_for", "load_tts", "telephone_audio", "telephone_mulaw"]

CACHE_ITEMS = 512

_tts: TTS | None = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Delivery:
    """How to speak: ``voice`` (None: the engine's default), ``rate`` in words/minute, ``pitch`` 0-99."""

    rate: int
    pitch: int
    voice: str | None = None

    def as_kwargs(self) -> dict:
        """Keyword arguments for ``synthesize`` of the engine ``load_tts`` returns."""
        return {"voice": self.voice, "rate": self.rate, "pitch": self.pitch}


STYLES = {
    "normal": Delivery(rate=DEFAULT_RATE, pitch=DEFAULT_PITCH),
    # Upset callers: about 15% slower and noticeably lower, which reads as calmer on espeak-ng.
    "calm": Delivery(rate=round(DEFAULT_RATE * 0.85), pitch=35),
}


def delivery_for(style: str | None) -> Delivery:
    """The delivery for ``style`` (``"normal"`` or ``"calm"``; None means normal)."""
    try:
        return STYLES[style or "normal"]
    except KeyError:
        raise TTSError(f"unknown speaking style {style!r}; use one of {', '.join(STYLES)}") from None


def load_tts(settings: Settings | None = None) -> TTS:
    """The shared, cached engine of this process (built on first use from ``settings``)."""
    global _tts
    with _lock:
        if _tts is None:
            settings = settings or load_settings()
            _tts = CachingTTS(Pyttsx3TTS(), max_items=CACHE_ITEMS, disk_dir=Path(settings.data_dir) / "tts-cache")
        return _tts
