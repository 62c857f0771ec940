"""One customer's history on every channel, on one timeline (read-only).

Calls and their turns (owned by ``storage.calls``) are found by ``calls.caller_hash``; text
conversations and their messages (owned by ``storage.conversations``) by their ``phone_hash`` or
``address_hash``. Entries come oldest first, each ``{"at", "channel", "conversation", "speaker",
"text"}`` (``conversation``: the CallSid of a call, the public id of a text conversation).
"""
from __future__ import annotations

from sqlalchemy import select

from voicebot.storage.conversation_tables import Conversation, Message
from voicebot.storage.conversations import address_key
from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.phones import phone_hashes
from voicebot.storage.tables import Call, Turn

UNREADABLE = "[unreadable]"


def timeline(db: Database, *, phone: str = "", kind: str = "", address: str = "") -> list[dict]:
    """Every line of the customer's calls (by ``phone``) and conversations (by ``phone`` or the
    ``kind``/``address`` they wrote from), oldest first."""
    hashes = phone_hashes(db, phone) if phone else []
    address_hashes = db.keyring.lookup_hashes(address_key(kind, address)) if address else []
    with db.session() as s:
        return _entries(s, hashes, address_hashes)


def timeline_of_conversation(db: Database, public_id: str) -> list[dict]:
    """The timeline of whoever wrote conversation ``public_id`` (by its phone and address hashes)."""
    with db.session() as s:
        row = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        if row is None:
            return []
        return _entries(s, [row.phone_hash] if row.phone_hash else [], [row.address_hash] if row.address_hash else [])


def _entries(s, hashes: list[str], address_hashes: list[str]) -> list[dict]:
    entries: list[tuple] = []
    if hashes:
        rows = s.execute(select(Call, Turn).join(Turn, Turn.call_id == Call.id).where(Call.caller_hash.in_(hashes))).all()
        entries += [(turn.created_at, "call", call.channel, call.call_sid, turn.speaker, turn.text, turn.id)
                    for call, turn in rows if turn.speaker != "system"]
    rows = s.execute(select(Conversation, Message).join(Message, Message.conversation_id == Conversation.id)
                     .where(Conversation.phone_hash.in_(hashes) | Conversation.address_hash.in_(address_hashes))).all()
    entries += [(m.created_at, "conversation", c.channel, c.public_id, m.speaker, m.text, m.id) for c, m in rows]
    entries.sort(key=lambda e: (_naive(e[0]), e[1], e[6]))
    return [{"at": at.isoformat() if at else None, "source": source, "channel": channel, "conversation": ref,
             "speaker": speaker, "text": readable(text, UNREADABLE)} for at, source, channel, ref, speaker, text, _ in entries]


def _naive(moment):
    return moment.replace(tzinfo=None) if moment is not None and moment.tzinfo else moment
