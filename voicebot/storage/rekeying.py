"""``rekey_database``: every encrypted value re-sealed with the newest key, and every lookup hash
recomputed under it (``voicebot privacy rekey``).

Run it after putting a new key first in ``VOICEBOT_ENCRYPTION_KEY`` (the old ones still listed);
once it reports nothing unreadable, the old keys can be removed. Safe while the server runs
(batches, one transaction each; rows written meanwhile use the newest key already) and
idempotent. Values no key opens are listed and left as they are.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select

from voicebot.privacy.rekey import RekeyReport, rekey_columns
from voicebot.storage.db import Database
from voicebot.storage.encrypted import UnreadableValue
from voicebot.storage.keys import encrypted_columns
from voicebot.storage.phones import phone_hash
from voicebot.storage.callbacks import Callback
from voicebot.storage.tables import Call, Consent, Customer

# (row class, the encrypted phone column, the hash column found by it)
HASHED = ((Customer, "phone", "phone_hash"), (Consent, "phone", "phone_hash"), (Call, "caller", "caller_hash"),
          (Callback, "phone", "phone_hash"))
BATCH = 500


def rekey_database(db: Database, progress: Callable[[int], None] | None = None) -> tuple[RekeyReport, int]:
    """Re-seal all encrypted columns, then refresh the lookup hashes; (the report, hashes rewritten)."""
    total = RekeyReport()
    for table, columns in encrypted_columns():
        report = rekey_columns(db.engine, table, columns, db.keyring, batch_size=BATCH, progress=progress)
        total.examined += report.examined
        total.rewritten += report.rewritten
        total.unreadable += report.unreadable
    return total, sum(_refresh_hashes(db, *spec) for spec in HASHED)


def _refresh_hashes(db: Database, row_class, phone_column: str, hash_column: str) -> int:
    changed, last = 0, 0
    while True:
        with db.session() as s:
            rows = s.scalars(select(row_class).where(row_class.id > last).order_by(row_class.id).limit(BATCH)).all()
            for row in rows:
                phone = getattr(row, phone_column)
                if isinstance(phone, UnreadableValue):
                    continue
                wanted = phone_hash(db, phone)  # None only for a call without a caller number
                if getattr(row, hash_column) != wanted:
                    setattr(row, hash_column, wanted)
                    changed += 1
        if not rows:
            return changed
        last = rows[-1].id
