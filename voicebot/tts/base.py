"""The text-to-speech interface. Backends: ``Pyttsx3TTS``; wrapper: ``CachingTTS``."""
from __future__ import annotations

from abc import ABC, abstractmethod

from voicebot.audio.wavfile import Audio


class TTS(ABC):
    """Renders text to PCM audio. Thread-safe: many calls may synthesise at once."""

    name: str = "tts"

    @abstractmethod
    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Audio:
        """Speak ``text`` with ``voice`` (None: default) at ``rate`` words/minute (None: default)."""
