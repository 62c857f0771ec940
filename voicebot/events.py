"""Events: facts that happened on a call or conversation, fed to the flow engine.

Small frozen dataclasses, no behaviour. Every channel (phone, SMS, web chat, browser voice)
turns what it sees into these; the flow engine consumes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CallStarted:
    """A conversation began. ``caller`` is the caller's number or channel identity."""

    call_id: str
    caller: str = ""
    channel: str = "voice"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Utterance:
    """The caller said (or typed) something, already recognised and understood.

    ``understanding`` is a ``voicebot.nlu.base.Understanding`` (or None when NLU is off).
    ``faq_answer``: an admin's FAQ answer to these words, found by the runner (``session.faq``);
    the flow speaks it, instead of a no-match, when nothing in the flow takes the turn.
    """

    text: str
    confidence: float = 1.0
    understanding: Any = None
    faq_answer: str | None = None


@dataclass(frozen=True)
class DtmfPressed:
    """The caller pressed keys; ``digits`` is the collected string (may be one key)."""

    digits: str


@dataclass(frozen=True)
class NoInput:
    """The caller said nothing before the listen timeout (``waited_s`` seconds after the prompt)."""

    waited_s: float = 0.0


@dataclass(frozen=True)
class LookupCompleted:
    """A data source answered the ``Lookup`` action with id ``lookup_id``."""

    lookup_id: str
    result: dict[str, Any]


@dataclass(frozen=True)
class LookupFailed:
    """A data source failed or timed out; ``reason`` is for logs, not for the caller."""

    lookup_id: str
    reason: str


@dataclass(frozen=True)
class PlaybackInterrupted:
    """The caller barged in; ``heard_fraction`` of the prompt had been played (0..1)."""

    heard_fraction: float


@dataclass(frozen=True)
class CallEnded:
    """The caller hung up or the channel closed."""

    reason: str = "hangup"


Event = CallStarted | Utterance | DtmfPressed | NoInput | LookupCompleted | LookupFailed | PlaybackInterrupted | CallEnded
