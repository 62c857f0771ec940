"""Callback requests: a caller asked to be called back at a time (``callbacks`` table).

The phone number and the caller's words are encrypted; the number is also kept as a keyed hash
so a caller's requests can be found (and erased) by number. ``due_at`` is UTC. Statuses:
``pending`` (to do), ``done``, ``cancelled``. Supervisors list them (``/agent/callbacks``);
``voicebot callbacks due`` prints those whose time has come.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.storage.encrypted import readable
from voicebot.storage.tables import Base, _text, utcnow

if TYPE_CHECKING:  # tables.py imports this module at its end, before storage.db may be loaded
    from voicebot.storage.db import Database

STATUSES = ("pending", "done", "cancelled")


class Callback(Base):
    """One requested callback."""

    __tablename__ = "callbacks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True, default="")
    phone: Mapped[str] = mapped_column(_text("callbacks.phone"))
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    name: Mapped[str] = mapped_column(_text("callbacks.name"), default="")
    requested_text: Mapped[str] = mapped_column(_text("callbacks.requested_text"), default="")  # the caller's words
    reason: Mapped[str] = mapped_column(String(64), default="")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def add_callback(db: Database, phone: str, due_at: datetime, *, call_sid: str = "", name: str = "",
                 requested_text: str = "", reason: str = "") -> int:
    """Store a pending callback; its id."""
    from voicebot.storage.phones import normalise_phone, phone_hash

    with db.session() as s:
        row = Callback(call_sid=call_sid, phone=normalise_phone(phone), phone_hash=phone_hash(db, phone), name=name,
                       requested_text=requested_text, reason=reason, due_at=_utc(due_at))
        s.add(row)
        s.flush()
        return row.id


def list_callbacks(db: Database, *, due_before: datetime | None = None, status: str | None = "pending") -> list[dict[str, Any]]:
    """Callbacks, soonest first: all of ``status`` (None: any), or only those due by ``due_before``."""
    query = select(Callback).order_by(Callback.due_at, Callback.id)
    if status is not None:
        query = query.where(Callback.status == status)
    if due_before is not None:
        query = query.where(Callback.due_at <= _utc(due_before))
    with db.session() as s:
        return [_dict(row) for row in s.scalars(query)]


def callbacks_for_phone(db: Database, phone: str) -> list[dict[str, Any]]:
    """Every callback (any status) asked for by ``phone``, oldest first (for data-subject export)."""
    from voicebot.storage.phones import phone_hashes

    hashes = phone_hashes(db, phone)
    if not hashes:
        return []
    with db.session() as s:
        return [_dict(row) for row in s.scalars(select(Callback).where(Callback.phone_hash.in_(hashes)).order_by(Callback.id))]


def set_status(db: Database, callback_id: int, status: str) -> bool:
    """Mark a callback done or cancelled; False when there is no such callback."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    with db.session() as s:
        row = s.get(Callback, callback_id)
        if row is None:
            return False
        row.status = status
        return True


def _dict(row: Callback) -> dict[str, Any]:
    return {"id": row.id, "call_sid": row.call_sid, "phone": readable(row.phone, None), "name": readable(row.name, None),
            "requested_text": readable(row.requested_text, None), "reason": row.reason,
            "due_at": _utc(row.due_at).isoformat(), "status": row.status, "created_at": _utc(row.created_at).isoformat()}


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
