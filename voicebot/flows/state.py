"""``FlowState``: where a call is in its flow, as plain JSON-able data (a call can move between
workers). The engine (``voicebot.flows.engine.step``) never modifies a state it was given."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

TRANSCRIPT_LINES = 30  # the engine's own memory of the conversation (bot, caller, system lines)


@dataclass
class FlowState:
    """Where a call is in its flow. Plain JSON-able data; treat as immutable outside the engine."""

    node: str | None = None
    waiting: str | None = None  # "input", "confirm", "lookup" or None
    lookup_id: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    silence_count: int = 0
    nomatch_count: int = 0
    lookup_seq: int = 0
    topic: str | None = None  # the last intent that chose something (for agent context)
    asked_at: str | None = None  # the last node that waited for the caller (for agent context)
    transcript: list[dict] = field(default_factory=list)
    ended: bool = False
    end_reason: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "FlowState":
        return cls(**json.loads(text))
