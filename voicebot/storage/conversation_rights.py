"""Data rights over the text channels' history (``storage.conversations``' tables), beside
``storage.subject_data`` (calls, customers) and ``storage.retention``:

- ``export_conversations(db, phone)``: every conversation linked to the number, with its lines;
- ``erase_conversations(db, phone)``: deletes them (lines, pictures, the conversation rows) and
  the number's SMS opt-out is KEPT: a carrier opt-out must outlive an erasure request (the row
  holds only the number, to honour STOP);
- ``purge_conversations(db, days)``: lines and pictures after ``transcripts`` days, whole
  conversations after ``calls`` days (the settings' retention periods; 0 keeps).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select

from voicebot.storage.conversation_tables import Attachment, Conversation, Message
from voicebot.storage.conversations import conversations_of, messages
from voicebot.storage.db import Database
from voicebot.storage.phones import phone_hashes


def export_conversations(db: Database, phone: str) -> list[dict[str, Any]]:
    """The number's text conversations (oldest first), each with its ``messages``."""
    found = conversations_of(db, phone=phone) if phone_hashes(db, phone) else []
    return [dict(c, messages=messages(db, c["id"])) for c in found]


def erase_conversations(db: Database, phone: str) -> dict[str, int]:
    """Delete the number's text conversations; rows deleted per table. Idempotent."""
    hashes = phone_hashes(db, phone)
    counts = dict.fromkeys(("conversations", "messages", "attachments"), 0)
    if not hashes:
        return counts
    with db.session() as s:
        ids = select(Conversation.id).where(Conversation.phone_hash.in_(hashes))
        counts["messages"] = s.execute(delete(Message).where(Message.conversation_id.in_(ids))).rowcount
        counts["attachments"] = s.execute(delete(Attachment).where(Attachment.conversation_id.in_(ids))).rowcount
        counts["conversations"] = s.execute(delete(Conversation).where(Conversation.phone_hash.in_(hashes))).rowcount
    db.checkpoint()
    return counts


def purge_conversations(db: Database, days: dict[str, int], now: datetime | None = None) -> dict[str, int]:
    """Delete lines and pictures older than ``days["transcripts"]``, conversations older than
    ``days["calls"]`` (0 or missing: kept); rows deleted per table."""
    now = now or datetime.now(timezone.utc)
    counts = dict.fromkeys(("conversations", "messages", "attachments"), 0)
    with db.session() as s:
        if days.get("transcripts"):
            cutoff = now - timedelta(days=days["transcripts"])
            counts["messages"] = s.execute(delete(Message).where(Message.created_at < cutoff)).rowcount
            counts["attachments"] = s.execute(delete(Attachment).where(Attachment.created_at < cutoff)).rowcount
        if days.get("calls"):
            old = select(Conversation.id).where(Conversation.started_at < now - timedelta(days=days["calls"]))
            counts["messages"] += s.execute(delete(Message).where(Message.conversation_id.in_(old))).rowcount
            counts["attachments"] += s.execute(delete(Attachment).where(Attachment.conversation_id.in_(old))).rowcount
            counts["conversations"] = s.execute(delete(Conversation).where(Conversation.id.in_(old))).rowcount
    if any(counts.values()):
        db.checkpoint()
    return counts
