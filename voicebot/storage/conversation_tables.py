"""The text channels' tables (declared on ``tables.Base``; only ``storage.conversations`` writes
them): conversations, their messages and attachments, remembered opt-outs. Personal data is
encrypted (``_text``/``_json``); senders and phones are found by keyed hashes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.storage.tables import Base, _json, _text, utcnow


class Conversation(Base):
    """One conversation on one text channel, linked to its customer by keyed hashes."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # unguessable (chat session id)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="")  # what the address is: phone, email, wechat, chat
    address: Mapped[str] = mapped_column(_text("conversations.address"), default="")
    address_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default="bot")  # bot / agent / closed
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the last intent understood
    summary: Mapped[str] = mapped_column(_text("conversations.summary"), default="")
    handoff: Mapped[dict] = mapped_column(_json("conversations.handoff"), default=dict)
    thread: Mapped[dict] = mapped_column(_json("conversations.thread"), default=dict)  # channel data (email ids)
    flow_state: Mapped[str] = mapped_column(_text("conversations.flow_state"), default="")  # FlowState JSON: resumable
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    """One line of a text conversation: customer, bot, agent or system."""

    __tablename__ = "conversation_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    speaker: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(_text("conversation_messages.text"), default="")
    details: Mapped[dict] = mapped_column(_json("conversation_messages.details"), default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Attachment(Base):
    """A picture a customer sent (bytes encrypted, base64 inside the sealed text)."""

    __tablename__ = "conversation_attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(_text("conversation_attachments.data"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OptOut(Base):
    """A sender who opted out of a channel (SMS STOP); removed again by START."""

    __tablename__ = "channel_opt_outs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(_text("channel_opt_outs.address"))  # kept so a rekey can recompute the hash
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
