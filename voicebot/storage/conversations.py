"""The one owner of the text channels' history: ``conversations``, their ``conversation_messages``
and ``conversation_attachments``, and remembered opt-outs (SMS STOP).

A conversation belongs to a channel (chat, sms, email, wechat) and to whoever wrote in: the
sender's address (a phone number, an email address, a WeChat OpenID, a chat login) is stored
encrypted and found by a keyed hash (``address_hash``; ``storage.phones`` style). A phone
number, given or the channel's own, is also kept as ``phone_hash``, the same hash
``calls.caller_hash`` holds, so a customer's chats, texts and calls make ONE history
(``storage.timeline``). The ``customers`` table is not touched: ``customer_id`` points at it.

Text is stored as given (redacting is the channel's job: ``Dialogue.private``); messages,
addresses, summaries, handoff contexts, thread data and attachment bytes are encrypted.
Every function runs one short transaction and returns plain values; failures are ``StorageError``.
"""
from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select

from voicebot.errors import StorageError
from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.phones import normalise_phone, phone_hash, phone_hashes
from voicebot.storage.conversation_tables import Attachment, Conversation, Message, OptOut
from voicebot.storage.tables import utcnow

UNREADABLE = "[unreadable]"
MEDIUM = {"chat": "web chat", "sms": "text message", "email": "email", "wechat": "WeChat"}  # channels in words


def address_key(kind: str, address: str) -> str:
    """The normal form hashed for an address: ``phone:+15551234567``, ``email:ann@example.com``, ..."""
    if kind == "phone":
        return f"phone:{normalise_phone(address)}"
    return f"{kind}:{address.strip().lower() if kind == 'email' else address.strip()}"


def open_conversation(db: Database, public_id: str, channel: str, *, kind: str = "", address: str = "",
                      phone: str = "", customer_id: int | None = None, thread: dict | None = None) -> int:
    """Create the conversation ``public_id``; its row id. ``kind``/``address`` identify the sender
    (``phone`` kind doubles as ``phone``); ``phone`` links it to the calls of that number."""
    phone = phone or (address if kind == "phone" else "")
    with db.session() as s:
        row = Conversation(public_id=public_id, channel=channel, kind=kind, address=address, customer_id=customer_id,
                           address_hash=db.keyring.lookup_hash(address_key(kind, address)) if address else None,
                           phone_hash=phone_hash(db, phone) if phone else None, thread=thread or {})
        s.add(row)
        s.flush()
        return row.id


def link_phone(db: Database, public_id: str, phone: str, customer_id: int | None = None) -> None:
    """Link the conversation to ``phone`` (the customer gave it) and the customer it belongs to."""
    with db.session() as s:
        row = _row(s, public_id)
        row.phone_hash = phone_hash(db, phone)
        row.customer_id = customer_id if customer_id is not None else row.customer_id


def update(db: Database, public_id: str, *, status: str | None = None, topic: str | None = None,
           summary: str | None = None, handoff: dict | None = None, thread: dict | None = None,
           flow_state: str | None = None) -> None:
    """Change what is given of the conversation's status, topic, summary, handoff context, thread,
    flow state (``FlowState`` JSON, so another process can take the conversation up)."""
    with db.session() as s:
        row = _row(s, public_id)
        for name, value in (("status", status), ("topic", topic), ("summary", summary), ("handoff", handoff),
                            ("thread", thread), ("flow_state", flow_state)):
            if value is not None:
                setattr(row, name, value)
        row.updated_at = utcnow()


def add_message(db: Database, public_id: str, speaker: str, text: str, details: dict[str, Any] | None = None) -> dict:
    """Append a line; the stored message as a dict (``id``, ``speaker``, ``text``, ``details``, ``at``)."""
    with db.session() as s:
        row = _row(s, public_id)
        message = Message(conversation_id=row.id, speaker=speaker, text=text, details=details or {})
        s.add(message)
        row.updated_at = utcnow()
        s.flush()
        return _message_dict(message)


def messages(db: Database, public_id: str, after: int = 0) -> list[dict]:
    """The conversation's lines with an id above ``after``, oldest first (a reconnect's replay)."""
    with db.session() as s:
        row = _row(s, public_id)
        found = s.scalars(select(Message).where(Message.conversation_id == row.id, Message.id > after)
                          .order_by(Message.id)).all()
        return [_message_dict(m) for m in found]


def load(db: Database, public_id: str) -> dict | None:
    """The conversation (without its lines), or None."""
    with db.session() as s:
        row = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        return _conversation_dict(row) if row is not None else None


def saved_state(db: Database, public_id: str) -> dict | None:
    """What resuming the conversation needs (``channel``, ``kind``, ``address``, ``status``,
    ``flow_state``, ``last_id``: its newest line), or None when there is no such conversation."""
    with db.session() as s:
        row = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        if row is None:
            return None
        last = s.scalar(select(Message.id).where(Message.conversation_id == row.id).order_by(Message.id.desc()).limit(1))
        return {"channel": row.channel, "kind": row.kind, "address": readable(row.address, ""), "status": row.status,
                "flow_state": readable(row.flow_state, ""), "last_id": last or 0}


def waiting_for_agent(db: Database) -> list[dict]:
    """Conversations handed to a human and not closed, newest first (the agent's list)."""
    with db.session() as s:
        rows = s.scalars(select(Conversation).where(Conversation.status == "agent")
                         .order_by(Conversation.updated_at.desc())).all()
        return [_conversation_dict(r) for r in rows]


def add_attachment(db: Database, public_id: str, content_type: str, data: bytes) -> int:
    """Store a picture with the conversation (encrypted); its id."""
    with db.session() as s:
        row = _row(s, public_id)
        item = Attachment(conversation_id=row.id, content_type=content_type, size=len(data),
                          data=base64.b64encode(data).decode("ascii"))
        s.add(item)
        s.flush()
        return item.id


def load_attachment(db: Database, public_id: str, attachment_id: int) -> tuple[str, bytes] | None:
    """(content type, bytes) of an attachment of this conversation, or None."""
    with db.session() as s:
        row = _row(s, public_id)
        item = s.get(Attachment, attachment_id) if 0 < attachment_id < 2**63 else None
        if item is None or item.conversation_id != row.id or not isinstance(item.data, str):
            return None
        return item.content_type, base64.b64decode(item.data)


def conversations_of(db: Database, *, phone: str = "", kind: str = "", address: str = "") -> list[dict]:
    """Every conversation of a customer (by phone, or by another address), oldest first."""
    hashes = phone_hashes(db, phone) if phone else []
    address_hashes = db.keyring.lookup_hashes(address_key(kind, address)) if address else []
    with db.session() as s:
        query = select(Conversation).where(Conversation.phone_hash.in_(hashes) | Conversation.address_hash.in_(address_hashes))
        return [_conversation_dict(r) for r in s.scalars(query.order_by(Conversation.id)).all()]


def last_conversation(db: Database, phone: str) -> dict:
    """The newest text conversation of this phone number, for a call's greeting: ``found``,
    ``channel``, ``medium`` (the channel in words), ``topic`` (the last intent understood, in
    words: "order status"), ``summary`` (the bot's last line)."""
    found = conversations_of(db, phone=phone) if normalise_phone(phone) else []
    if not found:
        return {"found": False}
    last = found[-1]
    topic = (last["topic"] or "").replace("_", " ")
    return {"found": True, "channel": last["channel"], "medium": MEDIUM.get(last["channel"], last["channel"]),
            "topic": topic or "a question", "summary": last["summary"]}


def set_opt_out(db: Database, channel: str, kind: str, address: str, opted_out: bool) -> None:
    """Remember (``opted_out``) or forget a sender's opt-out of ``channel``."""
    hashes = db.keyring.lookup_hashes(address_key(kind, address))
    with db.session() as s:
        rows = s.scalars(select(OptOut).where(OptOut.channel == channel, OptOut.address_hash.in_(hashes))).all()
        for row in rows:
            s.delete(row)
        if opted_out:
            s.add(OptOut(channel=channel, address=address, address_hash=hashes[0]))


def is_opted_out(db: Database, channel: str, kind: str, address: str) -> bool:
    hashes = db.keyring.lookup_hashes(address_key(kind, address))
    with db.session() as s:
        return s.scalar(select(OptOut.id).where(OptOut.channel == channel, OptOut.address_hash.in_(hashes))) is not None


def _row(s, public_id: str) -> Conversation:
    row = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
    if row is None:
        raise StorageError(f"no conversation {public_id[:8]}...")
    return row


def _message_dict(m: Message) -> dict:
    return {"id": m.id, "speaker": m.speaker, "text": readable(m.text, UNREADABLE),
            "details": dict(readable(m.details, {}) or {}), "at": m.created_at.isoformat() if m.created_at else None}


def _conversation_dict(r: Conversation) -> dict:
    return {"id": r.public_id, "channel": r.channel, "address": readable(r.address, UNREADABLE), "status": r.status,
            "topic": r.topic, "summary": readable(r.summary, ""), "handoff": dict(readable(r.handoff, {}) or {}),
            "thread": dict(readable(r.thread, {}) or {}), "customer_id": r.customer_id,
            "started_at": r.started_at.isoformat(), "updated_at": r.updated_at.isoformat()}
