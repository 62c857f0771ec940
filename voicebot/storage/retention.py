"""Retention: data older than its kind's period is deleted (``voicebot privacy purge``, and at
every start of the web app).

Kinds and their settings (days; 0 keeps that kind until it is erased):
``transcripts`` (``retain_transcripts_days``: the lines of calls), ``transfers``
(``retain_transfers_days``: contexts stored for agents), ``calls`` (``retain_calls_days``: the
call records themselves, with whatever they still hold), ``consents``
(``retain_consents_days``: remembered recording decisions; the caller is asked again after).
Callback requests (the number and the caller's words) follow them: one that is done or
cancelled goes with the transcripts, and any, even still pending, with the calls.
Purging is idempotent and safe while the server runs (one short transaction per kind): running
it twice deletes nothing the second time, so cron may run it as often as it likes. Deleted rows
are overwritten in SQLite (``secure_delete``) and the write-ahead log is emptied afterwards.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select

from voicebot.config import Settings
from voicebot.storage.callbacks import Callback
from voicebot.storage.db import Database
from voicebot.storage.tables import Call, Consent, TransferRecord, Turn

KINDS = ("transcripts", "transfers", "calls", "consents")


def retention_days(settings: Settings) -> dict[str, int]:
    """Days each kind is kept (0: until erased), from the settings."""
    return {kind: int(getattr(settings, f"retain_{kind}_days")) for kind in KINDS}


def purge_expired(db: Database, days: dict[str, int], now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than its kind's period; the number of rows deleted per kind (and of callbacks)."""
    now = now or datetime.now(timezone.utc)
    cutoff = {kind: now - timedelta(days=d) for kind, d in days.items() if d > 0}
    deleted = dict.fromkeys((*KINDS, "callbacks"), 0)
    if "transcripts" in cutoff:
        with db.session() as s:
            deleted["transcripts"] = s.execute(delete(Turn).where(Turn.created_at < cutoff["transcripts"])).rowcount
            deleted["callbacks"] = s.execute(delete(Callback).where(Callback.status != "pending",
                                                                    Callback.created_at < cutoff["transcripts"])).rowcount
    if "transfers" in cutoff:
        with db.session() as s:
            deleted["transfers"] = s.execute(delete(TransferRecord).where(TransferRecord.created_at < cutoff["transfers"])).rowcount
    if "calls" in cutoff:
        with db.session() as s:
            old = select(Call.id).where(Call.started_at < cutoff["calls"])
            deleted["transcripts"] += s.execute(delete(Turn).where(Turn.call_id.in_(old))).rowcount
            deleted["transfers"] += s.execute(delete(TransferRecord).where(TransferRecord.call_id.in_(old))).rowcount
            deleted["calls"] = s.execute(delete(Call).where(Call.started_at < cutoff["calls"])).rowcount
            deleted["callbacks"] += s.execute(delete(Callback).where(Callback.created_at < cutoff["calls"])).rowcount
    if "consents" in cutoff:
        with db.session() as s:
            deleted["consents"] = s.execute(delete(Consent).where(Consent.decided_at < cutoff["consents"])).rowcount
    if any(deleted.values()):
        db.checkpoint()
    return deleted
