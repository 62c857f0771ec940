"""Opening the database with its encryption key: ``open_database(settings)``.

The key is ``VOICEBOT_ENCRYPTION_KEY`` (one or several keys, newest first) or, when that is
not set, the key file ``DATA_DIR/encryption.key``, created on first start (``key_file_created``
says so, to be told to the person starting the server). Before anything is written, the key is
tried on values already stored: when none opens, or when data exists but no key is configured
and the key file is gone, ``EncryptionKeyError`` says what to set and nothing is touched. A
schema from an older voicebot is refused by ``Database.create_all`` with the fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Text, select, type_coerce

from voicebot.config import Settings
from voicebot.errors import EncryptionKeyError
from voicebot.privacy.crypto import KEY_FILE_NAME, load_keyring
from voicebot.storage.db import Database
from voicebot.storage.encrypted import EncryptedType
from voicebot.storage.tables import Base

SAMPLES_PER_COLUMN = 3


@dataclass(frozen=True)
class OpenedDatabase:
    """The database ready to use, the fingerprints of its keys, and the key file made just now (if any)."""

    db: Database
    key_ids: list[str]
    key_file_created: Path | None = None


def open_database(settings: Settings) -> OpenedDatabase:
    """The configured database with its schema and the right keyring (see the module docstring)."""
    db = Database(settings.effective_database_url)
    db.create_all()
    samples = stored_tokens(db)
    keyring, created = load_keyring(settings.encryption_key, settings.data_dir, data_exists=bool(samples))
    if samples and not keyring.opens_any(samples):
        source = "VOICEBOT_ENCRYPTION_KEY" if settings.encryption_key.strip() else str(Path(settings.data_dir) / KEY_FILE_NAME)
        raise EncryptionKeyError(f"the encryption key from {source} (key ids {', '.join(keyring.key_ids)}) opens none of the "
                                 f"data in {db.display_url}: set VOICEBOT_ENCRYPTION_KEY to the key(s) it was written with, "
                                 "newest first; nothing was changed")
    db.keyring = keyring
    return OpenedDatabase(db, keyring.key_ids, Path(settings.data_dir) / KEY_FILE_NAME if created else None)


def encrypted_columns() -> list[tuple]:
    """(table, [columns]) for every table with encrypted columns."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedType)]
        if columns:
            found.append((table, columns))
    return found


def stored_tokens(db: Database, per_column: int = SAMPLES_PER_COLUMN) -> list[str]:
    """A few raw tokens of the newest rows of every encrypted column (empty: no encrypted data yet)."""
    tokens: list[str] = []
    with db.engine.connect() as connection:
        for table, columns in encrypted_columns():
            (pk,) = table.primary_key.columns
            for column in columns:
                raw = type_coerce(column, Text)
                query = select(raw).where(column.isnot(None)).order_by(pk.desc()).limit(per_column)
                tokens += [value for value in connection.execute(query).scalars() if value]
    return tokens
