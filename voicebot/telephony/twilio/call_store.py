"""The call records the Twilio side keeps: calls, one-time stream tokens, status, transfers.

Every function takes a ``voicebot.storage.db.Database`` and runs one short transaction.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timezone

from sqlalchemy import select

from voicebot.errors import TelephonyError
from voicebot.storage.db import Database
from voicebot.storage.tables import Call, TransferRecord, Turn

# Statuses after which a call is over (Twilio's CallStatus values).
FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


def open_call(db: Database, call_sid: str, caller: str = "", called: str = "") -> str:
    """Create (or refresh, on a Twilio retry) the call record; return a fresh one-time stream token."""
    token = secrets.token_urlsafe(24)
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
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
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
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
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
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


def mark_stream_ended(db: Database, call_sid: str, reason: str) -> None:
    """The media stream closed; note it as a system turn (the status callback gives the final word)."""
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is not None:
            s.add(Turn(call_id=call.id, speaker="system", text=f"media stream ended: {reason}"))


def record_transfer(db: Database, call_sid: str, destination: str, reason: str, context: dict) -> int:
    """Persist the context an agent opens for a transferred call; return the transfer id."""
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is None:
            raise TelephonyError(f"cannot record a transfer for unknown call {call_sid}")
        call.outcome = "transferred"
        record = TransferRecord(call_id=call.id, destination=destination, reason=reason, context=dict(context))
        s.add(record)
        s.flush()
        return record.id


def get_call(db: Database, call_sid: str) -> Call | None:
    with db.session() as s:
        return s.scalar(select(Call).where(Call.call_sid == call_sid))
