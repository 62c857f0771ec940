"""What the understanding layer produces for one caller utterance."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entity:
    """A value found in text: ``kind`` (digits, order_number, date, time, money, yesno, email,
    phone, letters), the normalised ``value`` and the original ``text`` span with offsets."""

    kind: str
    value: Any
    text: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Understanding:
    """Intent (``"oos"`` when out of scope), entities, emotion and a frustration score in [0, 1]."""

    text: str
    intent: str = "oos"
    confidence: float = 0.0
    intent_scores: dict[str, float] = field(default_factory=dict)
    entities: tuple[Entity, ...] = ()
    emotion: str = "neutral"
    emotion_scores: dict[str, float] = field(default_factory=dict)
    frustration: float = 0.0

    def entity(self, kind: str) -> Entity | None:
        """The first entity of ``kind``, or None."""
        return next((e for e in self.entities if e.kind == kind), None)
