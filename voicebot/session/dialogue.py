"""``Dialogue``: one conversation on any channel, independent of audio.

It holds what a conversation is made of, whatever the medium: the flow and the caller's place in
it, the understanding of each caller turn (with the per-call frustration memory), the
conversation's lines, the call's records in the database (``voicebot.storage.calls``), the
outcome, and the handoff to a human (``voicebot.handoff.context``). The voice session wraps it
with recognition, speech and timers; conversation tests (and text channels) drive it directly,
so both run the same code for everything but sound.

Single-threaded: one caller turn at a time. Database failures are logged and the conversation
goes on (a caller should never hear silence because a row could not be written).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

from voicebot.actions import Action, HangUp, Transfer
from voicebot.audio.wavfile import Audio
from voicebot.errors import StorageError
from voicebot.events import CallEnded, CallStarted, NoInput, Utterance
from voicebot.handoff.context import Handoff, TranscriptLine, build_context
from voicebot.storage import calls
from voicebot.storage.customers import customer_by_phone
from voicebot.storage.db import Database

log = logging.getLogger(__name__)

AGENT = "agent"  # a flow's name for the configured agent line


class Dialogue:
    """The channel-independent core of one conversation (see the module docstring)."""

    def __init__(self, flow, understander, *, call_sid: str, caller: str = "", channel: str = "voice",
                 db: Database | None = None, transfer_number: str = AGENT, now: Callable[[], datetime] | None = datetime.now):
        from voicebot.nlu.emotion.fusion import FrustrationTracker

        self.flow, self.understander = flow, understander
        self.call_sid, self.caller, self.channel = call_sid, caller, channel
        self.db, self.transfer_number, self.now = db, transfer_number, now
        self.tracker = FrustrationTracker()
        self.state = None  # the flow's FlowState
        self.understanding = None  # of the last caller turn
        self.lines: list[TranscriptLine] = []
        self.outcome = "abandoned"
        self.call_id: int | None = None

    # ---- the conversation ---------------------------------------------------------------------------
    def start(self, params: dict[str, Any] | None = None) -> list[Action]:
        """Record the call and enter the flow. ``params["local_time"]`` (ISO) drives business
        hours; without it, ``now()`` (no clock given: the flow knows no time of day)."""
        self.call_id = self._store(calls.begin_call, self.call_sid, self.caller, self.channel)
        params = dict(params or {})
        if self.now is not None:
            params.setdefault("local_time", self.now().isoformat(timespec="minutes"))
        return self.step(CallStarted(self.call_sid, self.caller, self.channel, params))

    def understand(self, text: str, audio: Audio | None = None):
        """Intent, entities, emotion and this call's frustration so far for one caller turn."""
        self.understanding = self.understander.understand(text, audio, self.tracker)
        return self.understanding

    def heard(self, text: str, understanding, details: dict[str, Any] | None = None) -> int | None:
        """Record the caller's turn (transcript and database); the stored line's id."""
        u = understanding
        self.lines.append(TranscriptLine("caller", text, u.intent if u else None, _now_iso()))
        if self.call_id is None:
            return None
        return self._store(calls.add_turn, self.call_id, "caller", text, intent=u.intent if u else None,
                           confidence=u.confidence if u else None, frustration=u.frustration if u else None, details=details)

    def said(self, text: str, details: dict[str, Any] | None = None) -> None:
        """Record a line the bot said."""
        self.lines.append(TranscriptLine("bot", text, None, _now_iso()))
        if self.call_id is not None:
            self._store(calls.add_turn, self.call_id, "bot", text, details=details)

    def step(self, event) -> list[Action]:
        """Give ``event`` to the flow; the actions to carry out, in order."""
        from voicebot.flows.engine import step

        if isinstance(event, NoInput):
            self.tracker.note_silence(event.waited_s)
        self.state, actions = step(self.flow, self.state, event)
        return actions

    def hear(self, text: str, confidence: float = 1.0, audio: Audio | None = None) -> list[Action]:
        """A whole caller turn from its words: understand, record, step the flow."""
        understanding = self.understand(text, audio)
        self.heard(text, understanding)
        return self.step(Utterance(text, confidence, understanding))

    def update_turn(self, turn_id: int | None, *, latency_ms: float | None = None, details: dict[str, Any] | None = None) -> None:
        """Add what is known only after the reply (latency, stage timings) to a stored caller line."""
        if turn_id is not None:
            self._store(calls.update_turn, turn_id, latency_ms=latency_ms, details=details)

    # ---- how it ends ----------------------------------------------------------------------------------
    def hang_up(self, action: HangUp) -> None:
        """The flow ended the call: the caller was served without a human."""
        self.outcome = "contained"

    def handoff(self, transfer: Transfer) -> Handoff:
        """The flow hands the caller to a human: build the agent's context (the conversation's own
        lines, the flow's facts, the customer), store it, and return what the channel needs."""
        self.outcome = "transferred"
        destination = self.transfer_number if transfer.destination == AGENT else transfer.destination
        transfer = Transfer(destination, transfer.reason, transfer.context)
        customer = self._customer()
        context = build_context(transfer, call_sid=self.call_sid, caller=self.caller, channel=self.channel,
                                transcript=self.lines, understanding=self.understanding, customer=customer)
        record_id = None
        if self.call_id is not None:  # without the record the caller still reaches a human
            record_id = self._store(calls.save_transfer, self.call_sid, destination, transfer.reason, context)
        return Handoff(destination, transfer.reason, context, record_id)

    def end(self, reason: str) -> None:
        """The conversation is over (``reason``: hangup, error, ...): tell the flow, record the outcome."""
        if self.state is not None:
            self.step(CallEnded(reason))
        if self.call_id is not None:
            self._store(calls.end_call, self.call_id, self.outcome, reason)

    # ---- helpers --------------------------------------------------------------------------------------
    def _customer(self) -> dict[str, Any]:
        if self.db is None or not self.caller:
            return {}
        found = self._store(customer_by_phone, self.caller) or {}
        return {k: v for k, v in found.items() if k != "found"} if found.get("found") else {}

    def _store(self, write, *args, **kwargs):
        if self.db is None:
            return None
        try:
            return write(self.db, *args, **kwargs)
        except StorageError as exc:
            log.error("call %s: %s failed: %s", self.call_sid, write.__name__, exc)
            return None


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
