"""Tone adaptation: how the bot speaks to this caller now, from the frustration score and the
profile, and the audio that results.

``tone_for(frustration, profile)`` picks a ``Tone``:
- ``normal`` (frustration below ``GENTLE_AT``): the engine's default delivery, no added pauses;
- ``gentle`` (from ``GENTLE_AT``, or a calm caller whose profile asks for slow speech or who
  complained recently): about 8% slower, a little lower, a ``GENTLE_PAUSE_S`` pause between
  sentences;
- ``distressed`` (from ``DISTRESSED_AT``): 20% slower, lower, ``DISTRESSED_PAUSE_S`` pauses and
  short sentences: long sentences are cut at their commas and "For example, ..." asides are
  dropped (fewer words to wait through).
``sentences_for(text, tone)`` is the wording; ``render(tts, text, tone)`` speaks it sentence by
sentence at the tone's rate and pitch with the pauses between (8 kHz int16).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from voicebot.tts.pyttsx3 import DEFAULT_PITCH, DEFAULT_RATE

GENTLE_AT, DISTRESSED_AT = 0.3, 0.6
GENTLE_PAUSE_S, DISTRESSED_PAUSE_S = 0.25, 0.5
LONG_SENTENCE_WORDS = 8  # a distressed caller hears sentences longer than this cut at their commas


@dataclass(frozen=True)
class Tone:
    """A way of speaking: ``rate_factor`` of the default words per minute, ``pitch`` (0-99),
    ``pause_s`` of silence between sentences, and whether sentences are kept short."""

    name: str
    rate_factor: float
    pitch: int
    pause_s: float
    short_sentences: bool

    @property
    def rate(self) -> int:
        return round(DEFAULT_RATE * self.rate_factor)


NORMAL = Tone("normal", 1.0, DEFAULT_PITCH, 0.0, False)
GENTLE = Tone("gentle", 0.92, max(DEFAULT_PITCH - 8, 0), GENTLE_PAUSE_S, False)
DISTRESSED = Tone("distressed", 0.8, max(DEFAULT_PITCH - 15, 0), DISTRESSED_PAUSE_S, True)


def tone_for(frustration: float | None, profile: dict | None = None) -> Tone:
    """The tone for a caller this frustrated (0-1, None: unknown) with this profile."""
    score = float(frustration or 0.0)
    if score >= DISTRESSED_AT:
        return DISTRESSED
    if score >= GENTLE_AT:
        return GENTLE
    profile = profile if isinstance(profile, dict) else {}
    preferences = profile.get("preferences") if isinstance(profile.get("preferences"), dict) else {}
    if preferences.get("slow_speech") or "recent_complaint" in (profile.get("segments") or []):
        return GENTLE
    return NORMAL


def sentences_for(text: str, tone: Tone) -> list[str]:
    """The sentences to say, in order: ``text`` split at sentence ends, and for a short-sentence
    tone, asides dropped and long sentences cut at commas."""
    sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s.strip()]
    if not tone.short_sentences:
        return sentences
    out: list[str] = []
    for sentence in sentences:
        if sentence.lower().startswith("for example") and len(sentences) > 1:
            continue
        if len(sentence.split()) <= LONG_SENTENCE_WORDS or "," not in sentence:
            out.append(sentence)
            continue
        parts = [p.strip() for p in sentence.split(",") if p.strip()]
        out += [p if p[-1] in ".?!" else p + "." for p in parts]
    return out or sentences


def render(tts, text: str, tone: Tone, **extra) -> np.ndarray:
    """``text`` spoken in ``tone`` as 8 kHz int16 PCM (sentences joined by the tone's pauses)."""
    gap = np.zeros(int(round(tone.pause_s * 8000)), np.int16)
    parts: list[np.ndarray] = []
    for i, sentence in enumerate(sentences_for(text, tone)):
        if i and len(gap):
            parts.append(gap)
        parts.append(tts.synthesize(sentence, rate=tone.rate, pitch=tone.pitch, **extra).at_rate(8000).pcm)
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)
