"""Actions: imperatives the flow engine returns for a channel to carry out.

Small frozen dataclasses, no behaviour. The session runner executes them with real I/O
(TTS, Media Streams, REST); text channels render ``Say`` as text and ignore audio details.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Say:
    """Speak ``text`` (or play the recorded ``prompt_file`` when set).

    ``interruptible=False`` marks prompts the caller cannot barge into (legal notices).
    ``rate`` is words per minute (None: the voice's default); ``style`` is a hint such as
    ``"calm"`` for upset callers. ``written`` is the flow's wording for text channels (chat, SMS,
    email, WeChat), already filled in; None: they show ``text``.
    """

    text: str
    prompt_file: str | None = None
    interruptible: bool = True
    voice: str | None = None
    rate: int | None = None
    style: str | None = None
    written: str | None = None


@dataclass(frozen=True)
class Listen:
    """Wait for caller input.

    ``grammar`` constrains recognition: None (open speech), ``"digits"``, ``"yesno"``, or a
    tuple of phrases. ``max_digits``/``terminator``/``interdigit_timeout_s`` collect DTMF.

    ``complete_when`` lets the channel end a spoken turn before ``end_silence_s`` of silence
    when an early recognition of what was said so far is already a complete answer:
    ``"digits"`` (``max_digits`` digits), ``"yesno"`` (a clear yes or no), ``"phrase"`` (exactly
    one of the grammar's phrases); None: always wait for the full silence.
    """

    grammar: str | tuple[str, ...] | None = None
    start_timeout_s: float = 6.0
    end_silence_s: float = 0.7
    max_utterance_s: float = 15.0
    max_digits: int = 1
    terminator: str = "#"
    interdigit_timeout_s: float = 3.0
    complete_when: str | None = None


@dataclass(frozen=True)
class Lookup:
    """Fetch data from the named source; the answer comes back as ``LookupCompleted``.

    ``filler`` is said when the lookup takes longer than ``filler_after_s``.
    """

    lookup_id: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 5.0
    filler: str = "One moment while I look that up."
    filler_after_s: float = 0.8


@dataclass(frozen=True)
class Transfer:
    """Hand the call to a human at ``destination`` with ``context`` for the agent."""

    destination: str
    reason: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HangUp:
    """End the call."""

    reason: str = "completed"


Action = Say | Listen | Lookup | Transfer | HangUp
