"""One phone normalisation, and the keyed hashes rows are found by (phones are stored encrypted).

``phone_hash(db, phone)`` is what a row stores (under the newest key); ``phone_hashes(db, phone)``
are what a query matches (under every configured key, so rows written before a key rotation are
still found until ``voicebot privacy rekey`` has rewritten their hashes).
"""
from __future__ import annotations

import re

from voicebot.storage.db import Database


def normalise_phone(phone: str) -> str:
    """Digits with a leading + (E.164 style): '(555) 000-1111' and '+1 555 000 1111' compare equal
    when the country code is given; a 10-digit number is taken as North American (+1)."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 10:
        digits = "1" + digits
    return f"+{digits}" if digits else ""


def phone_hash(db: Database, phone: str) -> str | None:
    """The keyed hash a row stores for ``phone``; None when it holds no digits (anonymous callers)."""
    normal = normalise_phone(phone)
    return db.keyring.lookup_hash(normal) if normal else None


def phone_hashes(db: Database, phone: str) -> list[str]:
    """Every hash a row for ``phone`` may carry (one per configured key); empty for no digits."""
    normal = normalise_phone(phone)
    return db.keyring.lookup_hashes(normal) if normal else []
