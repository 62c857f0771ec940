"""The one owner of the ``calls``, ``turns`` and ``transfers`` tables.

Everything that writes a call's row, its transcript lines, its outcome or its transfer records
goes through these functions: the Twilio webhooks (``open_call``, ``claim_stream_token``,
``record_status``), the session runner (``begin_call``, ``add_turn``, ``update_turn``,
``end_call``, ``save_transfer``) and the agent pages (the ``load_*`` readers). Each function runs
one short transaction and returns plain values, never ORM objects; a database failure is a
``StorageError`` (the caller decides whether the call goes on).
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from voicebot.errors import StorageError, TelephonyError
from voicebot.storage.db import Database
from voicebot.storage.tables import Call, TransferRecord, Turn

# Statuses after which a call is over (Twilio's CallStatus values).
FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


# -- the carrier's side: webhooks and the media stream's one-time token -------------------------

def open_call(db: Database, call_sid: str, caller: str = "", called: str = "") -> str:
    """Create (or refresh, on a Twilio retry) the call record; return a fresh one-time stream token."""
    token = secrets.token_urlsafe(24)
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            call = Call(call_sid=call_sid, caller=caller, called=called)
            s.add(call)
        call.status = "ringing"
        call.stream_token = token
        call.token_used = False
    return token


def claim_stream_token(db: Database, call_sid: str, token: str) -> int:
    """Spend the one-time token of ``call_sid``; return the call's id.

    Raises ``TelephonyError`` when the call is unknown, the token is wrong, or it was used.
    """
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            raise TelephonyError(f"stream start for unknown call {call_sid}")
        if not call.stream_token or not hmac.compare_digest(call.stream_token, token or ""):
            raise TelephonyError(f"stream start for call {call_sid} with a wrong token")
        if call.token_used:
            raise TelephonyError(f"stream start for call {call_sid} with a token already used")
        call.token_used = True
        call.status = "in-progress"
        return call.id


def record_status(db: Database, call_sid: str, status: str, duration_s: float | None = None) -> bool:
    """Record Twilio's ``CallStatus`` for a call; return False when the call is unknown."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            return False
        call.status = status
        if status in FINAL_STATUSES:
            call.ended_at = call.ended_at or datetime.now(timezone.utc)
            if duration_s is not None:
                call.duration_s = duration_s
            if call.outcome is None:
                call.outcome = "contained" if status == "completed" else "abandoned"
        return True


def note_stream_ended(db: Database, call_sid: str, reason: str) -> None:
    """The media stream closed; note it as a system line (the status callback gives the final word)."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is not None:
            s.add(Turn(call_id=call.id, speaker="system", text=f"media stream ended: {reason}"))


# -- the conversation's side: the session runner ---------------------------------------------------

def begin_call(db: Database, call_sid: str, caller: str = "", channel: str = "voice") -> int:
    """Find (made by the webhook) or create the call ``call_sid``, mark it in progress; its id."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            call = Call(call_sid=call_sid, caller=caller, channel=channel, status="in-progress")
            s.add(call)
        else:
            call.status = "in-progress"
        s.flush()
        return call.id


def add_turn(db: Database, call_id: int, speaker: str, text: str, *, intent: str | None = None,
             confidence: float | None = None, frustration: float | None = None, latency_ms: float | None = None,
             details: dict[str, Any] | None = None) -> int:
    """Append a line (``caller``, ``bot`` or ``system``) to the call's transcript; its id."""
    with db.session() as s:
        turn = Turn(call_id=call_id, speaker=speaker, text=text, intent=intent, confidence=confidence,
                    frustration=frustration, latency_ms=latency_ms, details=details or {})
        s.add(turn)
        s.flush()
        return turn.id


def update_turn(db: Database, turn_id: int, *, latency_ms: float | None = None, details: dict[str, Any] | None = None) -> None:
    """Add what is known only later (the turn's latency, stage timings) to a stored line."""
    with db.session() as s:
        turn = s.get(Turn, turn_id)
        if turn is not None:
            turn.latency_ms = latency_ms
            turn.details = {**(turn.details or {}), **(details or {})}


def end_call(db: Database, call_id: int, outcome: str, reason: str) -> None:
    """Mark the call ended; an outcome already set (e.g. ``transferred``) is kept."""
    with db.session() as s:
        call = s.get(Call, call_id)
        if call is None:
            return
        now = datetime.now(timezone.utc)
        call.outcome = call.outcome or outcome
        call.status = "completed" if reason != "error" else "failed"
        call.ended_at = now
        started = call.started_at if call.started_at.tzinfo else call.started_at.replace(tzinfo=timezone.utc)
        call.duration_s = round((now - started).total_seconds(), 3)


def save_transfer(db: Database, call_sid: str, destination: str, reason: str, context: dict[str, Any]) -> int:
    """Store the context an agent opens for a transferred call, mark the call transferred; the record id."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            raise StorageError(f"cannot record the transfer: no call {call_sid} in the database")
        record = TransferRecord(call_id=call.id, destination=destination, reason=reason, context=dict(context))
        s.add(record)
        call.outcome = "transferred"
        s.flush()
        return record.id


# -- readers (agent pages, tests, the simulator) ----------------------------------------------------

def load_call(db: Database, call_sid: str) -> dict[str, Any] | None:
    """The call with its transcript lines (oldest first) and transfer ids, or None."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            return None
        turns = s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.id)).all()
        transfer_ids = s.scalars(select(TransferRecord.id).where(TransferRecord.call_id == call.id).order_by(TransferRecord.id)).all()
        return {
            "id": call.id, "call_sid": call.call_sid, "caller": call.caller, "called": call.called, "channel": call.channel,
            "status": call.status, "outcome": call.outcome, "duration_s": call.duration_s,
            "started_at": _iso(call.started_at), "ended_at": _iso(call.ended_at),
            "transcript": [_turn_dict(t) for t in turns], "transfer_ids": list(transfer_ids),
        }


def get_call(db: Database, call_sid: str) -> Call | None:
    """The call's row, detached (read its columns; changes are not saved), or None."""
    with db.session() as s:
        return _by_sid(s, call_sid)


def load_transfer(db: Database, transfer_id: int) -> dict[str, Any] | None:
    """A transfer record with its call's id, caller and transcript, or None."""
    with db.session() as s:
        record = s.get(TransferRecord, int(transfer_id))
        if record is None:
            return None
        call = s.get(Call, record.call_id)
        turns = s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.id)).all()
        return {
            "id": record.id, "call_sid": call.call_sid, "caller": call.caller, "destination": record.destination,
            "reason": record.reason, "context": dict(record.context or {}), "created_at": _iso(record.created_at),
            "transcript": [{"speaker": t.speaker, "text": t.text, "intent": t.intent} for t in turns],
        }


def _by_sid(s, call_sid: str) -> Call | None:
    return s.scalar(select(Call).where(Call.call_sid == call_sid))


def _turn_dict(t: Turn) -> dict[str, Any]:
    return {"id": t.id, "speaker": t.speaker, "text": t.text, "intent": t.intent, "confidence": t.confidence,
            "frustration": t.frustration, "latency_ms": t.latency_ms, "details": dict(t.details or {}),
            "at": _iso(t.created_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
