"""The one owner of the ``calls``, ``turns`` and ``transfers`` tables.

Everything that writes a call's row, its transcript lines, its outcome or its transfer records
goes through these functions: the Twilio webhooks (``open_call``, ``claim_stream_token``,
``record_status``), the session runner (``begin_call``, ``add_turn``, ``update_turn``,
``end_call``, ``save_transfer``, ``set_consent``, ``forget_call_content``) and the agent pages
(the ``load_*`` readers). Each function runs one short transaction and returns plain values,
never ORM objects; a database failure is a ``StorageError`` (the caller decides whether the call
goes on). Text is stored as given: redacting it is the caller's job (``session.dialogue``).

Replays: Twilio signs a webhook's URL and form, with no time and no nonce, so a captured
request verifies forever. What its data allows is refused here with ``ReplayedRequestError``:
a voice webhook for a call whose stream already started, that ended, or that was opened more
than ``RETRY_WINDOW_S`` ago; a status callback whose ``SequenceNumber`` is not newer than the
last one recorded, or (without one) a final status repeated. A media stream token is single
use, bound to its CallSid, and expires ``TOKEN_TTL_S`` after the webhook issued it.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, select

from voicebot.errors import ReplayedRequestError, StorageError, TelephonyError
from voicebot.storage.db import Database
from voicebot.storage.encrypted import UnreadableValue, readable
from voicebot.storage.phones import phone_hash
from voicebot.storage.tables import Call, TransferRecord, Turn

log = logging.getLogger(__name__)

# Statuses after which a call is over (Twilio's CallStatus values).
FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}
TOKEN_TTL_S = 60.0  # Twilio opens the stream within a second or two of reading our TwiML
RETRY_WINDOW_S = 300.0  # Twilio retries a voice webhook within seconds; later ones are replays
UNREADABLE = "[unreadable]"  # what a transcript line no key opens reads as


# -- the carrier's side: webhooks and the media stream's one-time token -------------------------

def open_call(db: Database, call_sid: str, caller: str = "", called: str = "") -> str:
    """Create (or refresh, on a Twilio retry) the call record; return a fresh one-time stream token.

    ``ReplayedRequestError`` when the call already streamed or ended, or was opened long ago."""
    token = secrets.token_urlsafe(24)
    now = datetime.now(timezone.utc)
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            call = Call(call_sid=call_sid, caller=caller, called=called, caller_hash=phone_hash(db, caller))
            s.add(call)
        elif call.token_used or call.ended_at is not None or call.status in FINAL_STATUSES:
            raise ReplayedRequestError(f"voice webhook for call {call_sid}, which already "
                                       f"{'streamed' if call.token_used else 'ended'}: a replay")
        elif _seconds_since(call.started_at, now) > RETRY_WINDOW_S:
            raise ReplayedRequestError(f"voice webhook for call {call_sid}, opened {RETRY_WINDOW_S:.0f}+ s ago: stale")
        call.status = "ringing"
        call.stream_token, call.stream_token_at = token, now
        call.token_used = False
    return token


def claim_stream_token(db: Database, call_sid: str, token: str) -> int:
    """Spend the one-time token of ``call_sid``; return the call's id.

    Raises ``TelephonyError`` when the call is unknown, the token is wrong, used or expired.
    """
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            raise TelephonyError(f"stream start for unknown call {call_sid}")
        if not call.stream_token or not hmac.compare_digest(call.stream_token, token or ""):
            raise TelephonyError(f"stream start for call {call_sid} with a wrong token")
        if call.token_used:
            raise TelephonyError(f"stream start for call {call_sid} with a token already used")
        if call.stream_token_at is None or _seconds_since(call.stream_token_at, datetime.now(timezone.utc)) > TOKEN_TTL_S:
            raise TelephonyError(f"stream start for call {call_sid} with an expired token (older than {TOKEN_TTL_S:.0f} s)")
        call.token_used = True
        call.status = "in-progress"
        return call.id


def record_status(db: Database, call_sid: str, status: str, duration_s: float | None = None,
                  sequence: int | None = None) -> bool:
    """Record Twilio's ``CallStatus`` for a call; return False when the call is unknown.

    ``ReplayedRequestError`` for a ``sequence`` not newer than the last one recorded, or (without
    a sequence) a final status the call already has."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            return False
        if sequence is not None and call.status_sequence is not None and sequence <= call.status_sequence:
            raise ReplayedRequestError(f"status callback {sequence} for call {call_sid} after {call.status_sequence}: "
                                       "replayed or out of date")
        if sequence is None and status in FINAL_STATUSES and call.reported_status == status:
            raise ReplayedRequestError(f"status callback '{status}' for call {call_sid} again: a replay")
        if sequence is not None:
            call.status_sequence = sequence
        call.status = call.reported_status = status
        if status in FINAL_STATUSES:
            call.ended_at = call.ended_at or datetime.now(timezone.utc)
            if duration_s is not None:
                call.duration_s = duration_s
            if call.outcome is None:
                call.outcome = "contained" if status == "completed" else "abandoned"
        return True


def note_stream_ended(db: Database, call_sid: str, reason: str) -> None:
    """The media stream closed; note it as a system line (the status callback gives the final word).
    A call whose caller declined recording gets no line."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is not None and call.consent != "declined":
            s.add(Turn(call_id=call.id, speaker="system", text=f"media stream ended: {reason}"))


# -- the conversation's side: the session runner ---------------------------------------------------

def begin_call(db: Database, call_sid: str, caller: str = "", channel: str = "voice",
               flow: tuple[str, str] | None = None) -> int:
    """Find (made by the webhook) or create the call ``call_sid``, mark it in progress, record the
    ``(name, sha256)`` of the flow serving it when given; its id."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            call = Call(call_sid=call_sid, caller=caller, caller_hash=phone_hash(db, caller), channel=channel,
                        status="in-progress")
            s.add(call)
        else:
            call.status = "in-progress"
        if flow is not None:
            call.flow_name, call.flow_version = flow[0][:128], flow[1][:64]
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
            turn.details = {**readable(turn.details, {}), **(details or {})}


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
        call.duration_s = round(_seconds_since(call.started_at, now), 3)


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


def mark_transferred(db: Database, call_id: int) -> None:
    """The call went to a human but nothing about it may be stored (no consent): the outcome only."""
    with db.session() as s:
        call = s.get(Call, call_id)
        if call is not None:
            call.outcome = "transferred"


def set_consent(db: Database, call_id: int, granted: bool) -> None:
    """Note the caller's recording decision on the call (``granted`` / ``declined``)."""
    with db.session() as s:
        call = s.get(Call, call_id)
        if call is not None:
            call.consent = "granted" if granted else "declined"


def forget_call_content(db: Database, call_id: int) -> None:
    """The caller declined recording: keep only the call's id, times, status and outcome (its
    lines, transfer records and the numbers of both ends are deleted)."""
    with db.session() as s:
        call = s.get(Call, call_id)
        if call is None:
            return
        s.execute(delete(Turn).where(Turn.call_id == call_id))
        s.execute(delete(TransferRecord).where(TransferRecord.call_id == call_id))
        call.caller, call.called, call.caller_hash, call.consent = "", "", None, "declined"


# -- readers (agent pages, tests, the simulator) ----------------------------------------------------

def load_call(db: Database, call_sid: str) -> dict[str, Any] | None:
    """The call with its transcript lines (oldest first) and transfer ids, or None. Values no key
    opens read as ``[unreadable]`` and are listed in ``unreadable`` (``table.column id=N``)."""
    with db.session() as s:
        call = _by_sid(s, call_sid)
        if call is None:
            return None
        unreadable: list[str] = []
        turns = s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.id)).all()
        transfer_ids = s.scalars(select(TransferRecord.id).where(TransferRecord.call_id == call.id).order_by(TransferRecord.id)).all()
        return {
            "id": call.id, "call_sid": call.call_sid, "caller": _value(call, "caller", "", unreadable),
            "called": _value(call, "called", "", unreadable), "channel": call.channel,
            "status": call.status, "outcome": call.outcome, "duration_s": call.duration_s, "consent": call.consent,
            "started_at": _iso(call.started_at), "ended_at": _iso(call.ended_at),
            "transcript": [_turn_dict(t, unreadable) for t in turns], "transfer_ids": list(transfer_ids),
            "unreadable": unreadable,
        }


def get_call(db: Database, call_sid: str) -> Call | None:
    """The call's row, detached (read its columns; changes are not saved), or None."""
    with db.session() as s:
        return _by_sid(s, call_sid)


def load_transfer(db: Database, transfer_id: int) -> dict[str, Any] | None:
    """A transfer record with its call's id, caller and transcript, or None (``unreadable`` as in ``load_call``)."""
    if not 0 < int(transfer_id) < 2**63:  # no such row can exist (and SQLite cannot even compare it)
        return None
    with db.session() as s:
        record = s.get(TransferRecord, int(transfer_id))
        if record is None:
            return None
        unreadable: list[str] = []
        call = s.get(Call, record.call_id)
        turns = s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.id)).all()
        return {
            "id": record.id, "call_sid": call.call_sid, "caller": _value(call, "caller", "", unreadable),
            "destination": record.destination, "reason": record.reason,
            "context": dict(_value(record, "context", {}, unreadable) or {}), "created_at": _iso(record.created_at),
            "transcript": [{"speaker": t.speaker, "text": _value(t, "text", UNREADABLE, unreadable), "intent": t.intent}
                           for t in turns],
            "unreadable": unreadable,
        }


def _value(row, column: str, default: Any, unreadable: list[str]) -> Any:
    """``row.column``, or ``default`` (noting and logging which row) when no key opens it."""
    value = getattr(row, column)
    if not isinstance(value, UnreadableValue):
        return value
    where = f"{row.__tablename__}.{column} id={row.id}"
    unreadable.append(where)
    log.warning("%s cannot be decrypted (corrupted, or sealed with a key that is not configured); served without it", where)
    return default


def _by_sid(s, call_sid: str) -> Call | None:
    return s.scalar(select(Call).where(Call.call_sid == call_sid))


def _turn_dict(t: Turn, unreadable: list[str]) -> dict[str, Any]:
    return {"id": t.id, "speaker": t.speaker, "text": _value(t, "text", UNREADABLE, unreadable), "intent": t.intent,
            "confidence": t.confidence, "frustration": t.frustration, "latency_ms": t.latency_ms,
            "details": dict(_value(t, "details", {}, unreadable) or {}), "at": _iso(t.created_at)}


def _seconds_since(moment: datetime, now: datetime) -> float:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC
    return (now - aware).total_seconds()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
