"""voicebot: an offline-first voice IVR bot for call centers."""

__version__ = "0.1.0"
