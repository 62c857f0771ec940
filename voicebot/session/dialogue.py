"""``Dialogue``: one conversation on any channel, independent of audio.

It holds what a conversation is made of, whatever the medium: the flow and the caller's place in
it, the understanding of each caller turn (with the per-call frustration memory), the
conversation's lines, the call's records in the database (``voicebot.storage.calls``), the
outcome, and the handoff to a human (``voicebot.handoff.context``). The voice session wraps it
with recognition, speech and timers; conversation tests (and text channels) drive it directly,
so both run the same code for everything but sound.

Privacy: what is stored (and handed to an agent) is redacted first (``privacy.redaction``:
card numbers, phones, emails, ... become ``[TYPE]``; order numbers stay); a caller turn that
answers a ``sensitive`` ask node is stored as ``[sensitive]``, and the values of sensitive slots
are masked wherever they would appear. In a flow with a consent node, nothing is written until
the caller decided (lines wait in memory); a yes writes them, a no (or no decision before the
call ended) keeps only the call's id, times and outcome (``calls.forget_call_content``). The
decision is remembered by phone (``storage.consent``) and passed to the flow at the next call.

Single-threaded: one caller turn at a time. Database failures are logged and the conversation
goes on (a caller should never hear silence because a row could not be written).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable

from voicebot.actions import Action, HangUp, Say, Transfer
from voicebot.audio.wavfile import Audio
from voicebot.errors import StorageError
from voicebot.events import CallEnded, CallStarted, NoInput, Utterance
from voicebot.flows.variables import SENSITIVE_TEXT, is_sensitive_turn, sensitive_slots
from voicebot.handoff.context import Handoff, TranscriptLine, build_context
from voicebot.privacy.redaction import redact_text
from voicebot.session.faq import answer_for
from voicebot.storage import calls
from voicebot.storage.consent import remember_consent, remembered_consent
from voicebot.customers.profiles import caller_profile
from voicebot.storage.conversations import last_conversation
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
        self._last_turn_id: int | None = None  # the last stored caller line
        self.faq_match = None  # the FAQ answer found for the last caller turn (``session.faq``), if any
        consent_nodes = [node for node in flow.nodes.values() if getattr(node, "type", None) == "consent"]
        self.consent_asked = bool(consent_nodes)
        self.remembers_consent = any(node.remember for node in consent_nodes)
        self.recording: bool | None = None if self.consent_asked else True  # None: not decided yet
        self._remembered: bool | None = None  # the caller's decision from an earlier call
        self._pending: list[tuple[str, str, dict]] = []  # lines waiting for the caller's decision
        self.frustration_trace: list[float] = []  # the caller's frustration after each turn, for the agent

    # ---- the conversation ---------------------------------------------------------------------------
    def start(self, params: dict[str, Any] | None = None) -> list[Action]:
        """Record the call and enter the flow. ``params["local_time"]`` (ISO) drives business
        hours; without it, ``now()`` (no clock given: the flow knows no time of day)."""
        served_by = (self.flow.name, self.flow.sha256) if hasattr(self.flow, "sha256") else None
        self.call_id = self._store(calls.begin_call, self.call_sid, self.caller, self.channel, served_by)
        params = dict(params or {})
        if self.now is not None:
            params.setdefault("local_time", self.now().isoformat(timespec="minutes"))
        if self.remembers_consent and self.caller:
            self._remembered = params["consent"] = self._store(remembered_consent, self.caller)
        if self.caller and self.channel == "voice":  # what they wrote to us on another channel
            params.setdefault("last_contact", self._store(last_conversation, self.caller))
        return self.step(CallStarted(self.call_sid, self.caller, self.channel, params))

    def understand(self, text: str, audio: Audio | None = None):
        """Intent, entities, emotion and this call's frustration so far for one caller turn."""
        self.understanding = self.understander.understand(text, audio, self.tracker)
        return self.understanding

    def heard(self, text: str, understanding, details: dict[str, Any] | None = None) -> int | None:
        """Record the caller's turn, redacted (transcript and database); the stored line's id, if stored now."""
        u = understanding
        secret = self.state is not None and is_sensitive_turn(self.flow.model, self.state.node, self.state.waiting)
        text = SENSITIVE_TEXT if secret else self.private(text)
        self.lines.append(TranscriptLine("caller", text, u.intent if u else None, _now_iso()))
        if u is not None and u.frustration is not None:
            self.frustration_trace.append(float(u.frustration))
        self._last_turn_id = self._record("caller", text, intent=u.intent if u else None, confidence=u.confidence if u else None,
                                          frustration=u.frustration if u else None, details=details)
        return self._last_turn_id

    def said(self, text: str, details: dict[str, Any] | None = None) -> None:
        """Record a line the bot said (redacted)."""
        text = self.private(text)
        self.lines.append(TranscriptLine("bot", text, None, _now_iso()))
        self._record("bot", text, details=details)

    def private(self, text: str) -> str:
        """``text`` as it may be stored: PII redacted, values of sensitive slots masked."""
        text = redact_text(text)
        variables = self.state.variables if self.state is not None else {}
        for slot in sensitive_slots(self.flow.model):
            value = str(variables.get(slot) or "")
            if len(value) >= 3:
                text = text.replace(value, SENSITIVE_TEXT)
        return text

    def step(self, event) -> list[Action]:
        """Give ``event`` to the flow; the actions to carry out, in order."""
        from voicebot.flows.engine import step

        if isinstance(event, NoInput):
            self.tracker.note_silence(event.waited_s)
        if isinstance(event, Utterance) and event.faq_answer is None and self.state is not None \
                and self.state.waiting in ("input", "confirm"):
            found = answer_for(self.db, event.text, getattr(self.understander, "embedder", None))
            self.faq_match = found
            if found is not None:  # the flow speaks it only if nothing in the flow takes the turn
                event = replace(event, faq_answer=found.answer)
        self.state, actions = step(self.flow, self.state, event)
        if isinstance(event, Utterance) and event.faq_answer and self._last_turn_id is not None and \
                any(isinstance(a, Say) and a.text.startswith(event.faq_answer) for a in actions):  # answered by the FAQ
            self._store(calls.update_turn, self._last_turn_id, details={"faq_id": self.faq_match.faq_id})
        self._consent_decided(self.state.variables.get("consent"))
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
        facts = dict(transfer.context or {})
        facts["slots"] = _redacted_values(facts.get("slots") or {})  # sensitive slots never got here (the engine)
        transfer = Transfer(destination, transfer.reason, facts)
        context = build_context(transfer, call_sid=self.call_sid, caller=self.caller, channel=self.channel,
                                transcript=self.lines, understanding=self.understanding, customer=self._customer(),
                                frustration_trace=self.frustration_trace)
        record_id = None
        if self.call_id is not None and self.recording:  # without the record the caller still reaches a human
            record_id = self._store(calls.save_transfer, self.call_sid, destination, transfer.reason, context)
        elif self.call_id is not None:  # no consent: the agent gets the context live, nothing is stored
            self._store(calls.mark_transferred, self.call_id)
        return Handoff(destination, transfer.reason, context, record_id)

    def end(self, reason: str) -> None:
        """The conversation is over (``reason``: hangup, error, ...): tell the flow, record the outcome.
        A caller who never decided about recording counts as having declined."""
        if self.state is not None:
            self.step(CallEnded(reason))
        if self.recording is None:
            self._consent_decided(False, remember=False)
        self._record_survey()
        if self.call_id is not None:
            self._store(calls.end_call, self.call_id, self.outcome, reason)

    def _record_survey(self) -> None:
        """Store each survey answer as a system line (``details["survey_score"]``: the analytics'
        satisfaction; ``details["comment"]``: the caller's optional comment, redacted)."""
        variables = self.state.variables if self.state is not None else {}
        for node in self.flow.nodes.values():
            score = variables.get(node.slot) if getattr(node, "type", None) == "survey" else None
            if isinstance(score, int) and not isinstance(score, bool):
                details = {"survey_score": score, "scale": node.scale, "slot": node.slot}
                comment = variables.get(f"{node.slot}_comment") if node.comment_prompt else None
                if isinstance(comment, str) and comment.strip():
                    details["comment"] = self.private(comment)  # redacted like the transcript
                said = f"; comment: {details['comment']}" if "comment" in details else ""
                self._record("system", f"survey {node.slot}: {score} of {node.scale}{said}", details=details)

    # ---- consent and recording ----------------------------------------------------------------------
    def _consent_decided(self, granted: bool | None, remember: bool = True) -> None:
        """Act on the caller's decision once: write the waiting lines, or keep only the minimum."""
        if not self.consent_asked or granted is None or granted == self.recording:
            return
        self.recording = granted
        pending, self._pending = self._pending, []
        if self.call_id is not None:
            if granted:
                self._store(calls.set_consent, self.call_id, True)
                for speaker, text, fields in pending:
                    self._store(calls.add_turn, self.call_id, speaker, text, **fields)
            else:
                self._store(calls.forget_call_content, self.call_id)
        if remember and self.remembers_consent and self.caller and granted != self._remembered:
            self._store(remember_consent, self.caller, granted)

    def _record(self, speaker: str, text: str, **fields) -> int | None:
        if self.call_id is None or self.recording is False:
            return None
        if self.recording is None:
            self._pending.append((speaker, text, fields))
            return None
        return self._store(calls.add_turn, self.call_id, speaker, text, **fields)

    # ---- helpers --------------------------------------------------------------------------------------
    def _customer(self) -> dict[str, Any]:
        if self.db is None or not self.caller:
            return {}
        found = self._store(caller_profile, self.caller) or {}  # the profile with segments (voicebot.customers)
        return {k: v for k, v in found.items() if k != "found"} if found.get("found") else {}

    def _store(self, write, *args, **kwargs):
        if self.db is None:
            return None
        try:
            return write(self.db, *args, **kwargs)
        except StorageError as exc:
            log.error("call %s: %s failed: %s", self.call_sid, write.__name__, exc)
            return None


def _redacted_values(value: Any) -> Any:
    """``value`` with every text inside it redacted (dicts and lists walked)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redacted_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted_values(v) for v in value]
    return value


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
