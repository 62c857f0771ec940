"""Re-encrypt stored values with the newest key, and find rows no key opens.

Works on SQLAlchemy Core tables whose encrypted columns hold Fernet tokens (see
``voicebot.storage.encrypted``). It reads and writes the raw tokens, never decrypting into
the ORM, in batches, one transaction per batch, so it can run while the server serves calls
(a row written meanwhile is sealed with the newest key already). Running it twice changes
nothing the second time. Rows that no key opens are reported by name and left untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from sqlalchemy import Column, Table, select, type_coerce, update
from sqlalchemy.engine import Engine
from sqlalchemy.types import Text

from voicebot.errors import DecryptionError
from voicebot.privacy.crypto import Keyring


@dataclass
class RekeyReport:
    """What a rekey pass saw: values examined, values re-sealed, and the rows no key opens."""

    examined: int = 0
    rewritten: int = 0
    unreadable: list[str] = field(default_factory=list)  # "table.column id=N"


def rekey_columns(engine: Engine, table: Table, columns: Iterable[Column], keyring: Keyring,
                  batch_size: int = 500, progress: Callable[[int], None] | None = None) -> RekeyReport:
    """Re-seal every value of ``columns`` in ``table`` that the newest key does not open yet."""
    report = RekeyReport()
    (pk,) = table.primary_key.columns  # one-column primary keys only (every voicebot table)
    raw = [type_coerce(c, Text).label(c.name) for c in columns]
    last = None
    while True:
        with engine.begin() as connection:
            query = select(pk, *raw).order_by(pk).limit(batch_size)
            if last is not None:
                query = query.where(pk > last)
            rows = connection.execute(query).all()
            for row in rows:
                changes = _rotated(row, [c.name for c in columns], table.name, keyring, report)
                if changes:
                    connection.execute(update(table).where(pk == row[0]).values(
                        {table.c[name]: type_coerce(token, Text) for name, token in changes.items()}))
        if not rows:
            return report
        last = rows[-1][0]
        if progress is not None:
            progress(len(rows))


def _rotated(row, names: list[str], table_name: str, keyring: Keyring, report: RekeyReport) -> dict[str, str]:
    changes = {}
    for index, name in enumerate(names, start=1):
        token = row[index]
        if token is None:
            continue
        report.examined += 1
        if keyring.is_current(token):
            continue
        where = f"{table_name}.{name} id={row[0]}"
        try:
            changes[name] = keyring.rotate(token, what=where).decode("ascii")
        except DecryptionError:
            report.unreadable.append(where)
    report.rewritten += len(changes)
    return changes
