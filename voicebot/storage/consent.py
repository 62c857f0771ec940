"""A caller's recording/transcription decision, remembered by phone number (the ``consents``
table; the phone is found by its keyed hash and stored encrypted). Callers without a number
(anonymous) are never remembered."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from voicebot.storage.db import Database
from voicebot.storage.phones import normalise_phone, phone_hash, phone_hashes
from voicebot.storage.tables import Consent


def remembered_consent(db: Database, phone: str) -> bool | None:
    """True / False when this caller decided before, None when they never did (or have no number)."""
    hashes = phone_hashes(db, phone)
    if not hashes:
        return None
    with db.session() as s:
        row = s.scalar(select(Consent).where(Consent.phone_hash.in_(hashes)))
        return None if row is None else bool(row.granted)


def remember_consent(db: Database, phone: str, granted: bool) -> None:
    """Store (or replace) this caller's decision; nothing for a caller without a number."""
    hashes = phone_hashes(db, phone)
    if not hashes:
        return
    with db.session() as s:
        row = s.scalar(select(Consent).where(Consent.phone_hash.in_(hashes)))
        if row is None:
            row = Consent()
            s.add(row)
        row.phone, row.phone_hash = normalise_phone(phone), phone_hash(db, phone)
        row.granted, row.decided_at = granted, datetime.now(timezone.utc)
