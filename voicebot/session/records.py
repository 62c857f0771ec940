"""Persisting one call: its ``calls`` row, the ``turns`` of the conversation, its outcome.

Writes go through ``voicebot.storage.db.Database``; a failing database is logged and the call
goes on (a caller should never hear silence because a row could not be written).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from voicebot.errors import StorageError
from voicebot.storage.db import Database
from voicebot.storage.tables import Call, Turn

log = logging.getLogger(__name__)


class CallRecorder:
    """The database side of one call, found or created by ``call_sid``."""

    def __init__(self, db: Database | None, call_sid: str, caller: str = "", channel: str = "voice"):
        self.db = db
        self.call_sid = call_sid
        self.call_id: int | None = None
        if db is None:
            return
        try:
            with db.session() as session:
                call = session.scalar(select(Call).where(Call.call_sid == call_sid))
                if call is None:
                    call = Call(call_sid=call_sid, caller=caller, channel=channel, status="in-progress")
                    session.add(call)
                else:
                    call.status = "in-progress"
                session.flush()
                self.call_id = call.id
        except StorageError as exc:
            log.error("call %s: cannot record the call: %s", call_sid, exc)

    def add_turn(self, speaker: str, text: str, *, intent: str | None = None, confidence: float | None = None,
                 frustration: float | None = None, latency_ms: float | None = None, details: dict[str, Any] | None = None) -> int | None:
        """Append a line to the call's transcript; return its id (None when it could not be stored)."""
        if self.db is None or self.call_id is None:
            return None
        try:
            with self.db.session() as session:
                turn = Turn(call_id=self.call_id, speaker=speaker, text=text, intent=intent, confidence=confidence,
                            frustration=frustration, latency_ms=latency_ms, details=details or {})
                session.add(turn)
                session.flush()
                return turn.id
        except StorageError as exc:
            log.error("call %s: cannot record a turn: %s", self.call_sid, exc)
            return None

    def update_turn(self, turn_id: int | None, *, latency_ms: float | None = None, details: dict[str, Any] | None = None) -> None:
        """Add what is known only later (the turn's latency, stage timings) to a stored line."""
        if self.db is None or turn_id is None:
            return
        try:
            with self.db.session() as session:
                turn = session.get(Turn, turn_id)
                if turn is not None:
                    turn.latency_ms = latency_ms
                    turn.details = {**(turn.details or {}), **(details or {})}
        except StorageError as exc:
            log.error("call %s: cannot update a turn: %s", self.call_sid, exc)

    def end(self, outcome: str, reason: str) -> None:
        """Mark the call ended; an outcome already set (e.g. ``transferred``) is kept."""
        if self.db is None or self.call_id is None:
            return
        try:
            with self.db.session() as session:
                call = session.get(Call, self.call_id)
                now = datetime.now(timezone.utc)
                call.outcome = call.outcome or outcome
                call.status = "completed" if reason != "error" else "failed"
                call.ended_at = now
                started = call.started_at if call.started_at.tzinfo else call.started_at.replace(tzinfo=timezone.utc)
                call.duration_s = round((now - started).total_seconds(), 3)
        except StorageError as exc:
            log.error("call %s: cannot record the end of the call: %s", self.call_sid, exc)
