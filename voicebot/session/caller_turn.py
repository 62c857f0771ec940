"""``CallerTurn``: one caller turn from the end of their speech to the bot's first reply audio,
timed per stage (see DESIGN.md "Latency, defined once").

Stages: ``endpoint`` (how long endpointing waited after the last speech frame), ``asr`` (end of
speech -> final text, queueing included), ``nlu``, ``flow`` (every flow step of the turn, a
lookup's answer included), ``tts`` (the first reply's synthesis) and ``total`` (last speech
frame -> first reply audio handed to the channel).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from voicebot import observability as metrics


@dataclass
class CallerTurn:
    """What the caller said and what it cost; filled in as the turn goes on."""

    endpoint: float
    ended_at: float  # time.perf_counter() when the utterance ended
    ended_early: bool = False
    speculative: bool = False  # the text came from an early decode (nothing was said after it)
    text: str = ""
    asr_confidence: float = 0.0
    backend: str = ""
    grammar: str | None = None
    intent: str | None = None
    confidence: float | None = None
    frustration: float | None = None
    emotion: str | None = None
    turn_id: int | None = None  # the stored caller line
    asr: float | None = None
    nlu: float | None = None
    flow: float = 0.0
    tts: float | None = None
    total: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def recognised(self, recognition, speculative: bool) -> None:
        self.asr = time.perf_counter() - self.ended_at
        self.text, self.asr_confidence, self.backend = recognition.text, recognition.confidence, recognition.backend
        self.speculative = speculative

    def understood(self, u, seconds: float) -> None:
        self.nlu = seconds
        self.intent, self.confidence, self.frustration, self.emotion = u.intent, u.confidence, u.frustration, u.emotion

    def replied(self, synthesis_s: float) -> None:
        """The first reply audio is about to go out (later prompts of the turn do not count)."""
        if self.tts is None:
            self.tts = synthesis_s
            self.total = self.endpoint + (time.perf_counter() - self.ended_at)

    def stages(self) -> dict[str, float]:
        values = {"endpoint": self.endpoint, "asr": self.asr, "nlu": self.nlu, "flow": self.flow, "tts": self.tts, "total": self.total}
        return {k: round(v, 4) for k, v in values.items() if v is not None}

    def details(self) -> dict[str, Any]:
        """What the stored caller line gets once the turn is answered."""
        return {"stages": self.stages(), "asr_confidence": self.asr_confidence, "backend": self.backend, "grammar": self.grammar,
                "emotion": self.emotion, "speculative": self.speculative or None, "ended_early": self.ended_early or None}

    def as_dict(self) -> dict[str, Any]:
        """The turn as the session reports it (``VoiceCallSession.turns``)."""
        out = {"text": self.text, "asr_confidence": self.asr_confidence, "backend": self.backend, "grammar": self.grammar,
               "intent": self.intent, "confidence": self.confidence, "frustration": self.frustration, "emotion": self.emotion,
               "endpoint": self.endpoint, "stages": self.stages()}
        if self.ended_early:
            out["ended_early"] = True
        if self.speculative:
            out["speculative"] = True
        return out

    def observe(self) -> None:
        metrics.observe_turn(self.stages())
