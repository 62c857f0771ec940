"""Database engine and sessions. SQLite under the data dir by default; any SQLAlchemy URL works.

Each ``Database`` carries the encryption keyring its encrypted columns use; ``session()`` binds
it for the transaction, so databases with different keys can share a process. Servers and
commands open the database with ``storage.keys.open_database(settings)`` (the configured key or
the key file, checked against the data already stored); ``Database(url)`` without a keyring
uses a random key of its own, for throwaway databases (tests, ``flows test``): what it writes
cannot be read by anything else.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Float, Integer, String, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from voicebot.errors import StorageError
from voicebot.privacy.crypto import Keyring, generate_key
from voicebot.storage.tables import KEYRING, Base


class Database:
    """One engine + session factory + keyring. ``create_all`` makes the schema if it is missing."""

    def __init__(self, url: str, keyring: Keyring | None = None):
        self.url = url
        self.keyring = keyring or Keyring([generate_key()])
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise StorageError(f"cannot open database {self.display_url}: {exc}") from exc
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def display_url(self) -> str:
        """The URL with any password hidden (safe to print and log)."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "(unparsable database URL)"

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for SQLite (its ``-wal`` and ``-shm`` files sit next to it), else None."""
        database = make_url(self.url).database if self.url.startswith("sqlite") else None
        return Path(database) if database and database != ":memory:" else None

    def create_all(self) -> None:
        """Create missing tables; refuse a schema written by an older voicebot (no migrations)."""
        try:
            outdated = _outdated_tables(self.engine)
            if outdated:
                raise StorageError(f"{self.display_url} was written by an older voicebot ({'; '.join(outdated)}) "
                                   f"and keeps personal data unencrypted; there is no migration: back it up if its calls "
                                   f"matter, then {self._removal_hint()} and start again (a new one is created)")
            Base.metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot create schema in {self.display_url}: {exc}") from exc

    def _removal_hint(self) -> str:
        path = self.sqlite_path
        if path is None:
            return "drop its voicebot tables"
        return f"remove {path} (and {path.name}-wal, {path.name}-shm)"

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database and empty it, so deleted rows
        (overwritten there by ``secure_delete``) leave no copy in ``-wal``. Other databases: nothing."""
        if self.sqlite_path is None:
            return
        try:
            with self.engine.connect() as connection:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot checkpoint {self.display_url}: {exc}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        with KEYRING.bound(self.keyring):
            session = self._sessions()
            try:
                yield session
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                raise StorageError(f"database error: {exc}") from exc
            except Exception:
                session.rollback()
                raise
            finally:
                session.close()


def _outdated_tables(engine: Engine) -> list[str]:
    """Tables of ours that exist but lack columns this version needs, as 'table lacks a, b'.
    When nothing else is missing, missing plain nullable columns (e.g. ``calls.flow_name``) are
    added instead: old rows read them as None."""
    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    problems, addable = [], []
    for table in Base.metadata.sorted_tables:
        if table.name in existing:
            have = {column["name"] for column in inspector.get_columns(table.name)}
            missing = [column for column in table.columns if column.name not in have]
            plain = [c for c in missing if c.nullable and not c.primary_key and not c.foreign_keys
                     and type(c.type) in (String, Float, Integer)]
            addable += plain
            if rest := [c.name for c in missing if c not in plain]:
                problems.append(f"table {table.name} lacks {', '.join(rest)}")
    if not problems:
        for column in addable:
            with engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {column.table.name} ADD COLUMN {column.name} "
                                        f"{column.type.compile(dialect=engine.dialect)}"))
    return problems


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
    cursor.close()
