"""The database schema: calls and their turns, transfers with agent context, customers and
orders (the demo's data source), remembered consent, and saved flow versions.

Personal data is stored encrypted (``voicebot.storage.encrypted``, keys from the ``KEYRING``
slot that ``Database.session`` binds): phone numbers, names and emails, transcript lines and
their details, transfer contexts. Rows are found by a phone through keyed hashes
(``*_hash``, see ``storage.phones``), never by the encrypted value. Encrypted columns read as
``UnreadableValue`` when no key opens them, so one damaged row never hides the others.
Not encrypted: ids, times, statuses, outcomes, intents, numbers, orders, flow sources."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from voicebot.storage.encrypted import EncryptedJSON, EncryptedText, KeyringSlot

KEYRING = KeyringSlot()  # filled per thread by Database.session with that database's keyring


def _text(label: str) -> EncryptedText:
    return EncryptedText(KEYRING, label=label, on_error="placeholder")


def _json(label: str) -> EncryptedJSON:
    return EncryptedJSON(KEYRING, label=label, on_error="placeholder")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    channel: Mapped[str] = mapped_column(String(16), default="voice")
    caller: Mapped[str] = mapped_column(_text("calls.caller"), default="")
    called: Mapped[str] = mapped_column(_text("calls.called"), default="")
    caller_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(32), default="ringing")
    status_sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)  # Twilio's SequenceNumber seen last
    reported_status: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the last status Twilio reported
    stream_token: Mapped[str | None] = mapped_column(String(128), nullable=True)
    stream_token_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    token_used: Mapped[bool] = mapped_column(default=False)
    consent: Mapped[str | None] = mapped_column(String(16), nullable=True)  # granted / declined / None: not asked
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)  # contained / transferred / abandoned
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    flow_name: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)  # the flow that served it
    flow_version: Mapped[str | None] = mapped_column(String(64), nullable=True)  # that flow text's sha256
    turns: Mapped[list["Turn"]] = relationship(back_populates="call", order_by="Turn.id", cascade="all, delete-orphan")


class Turn(Base):
    """One line of the conversation: who spoke, what, and what the bot understood."""

    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    speaker: Mapped[str] = mapped_column(String(8))  # caller / bot / system
    text: Mapped[str] = mapped_column(_text("turns.text"), default="")
    intent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    frustration: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    details: Mapped[dict] = mapped_column(_json("turns.details"), default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    call: Mapped[Call] = relationship(back_populates="turns")


class TransferRecord(Base):
    """The context an agent opens when a call is handed over."""

    __tablename__ = "transfers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    destination: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(255))
    context: Mapped[dict] = mapped_column(_json("transfers.context"), default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Customer(Base):
    """A customer profile. Several customers may share a phone number (a household line): a
    lookup by phone that finds more than one treats the caller as unknown (``customers.profiles``).
    Verification facts (postcode, date of birth) are encrypted; failed verifications are counted
    per customer so guessing is limited across calls too (``customers.verification``)."""

    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)  # the CRM's id
    phone: Mapped[str] = mapped_column(_text("customers.phone"))
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(_text("customers.name"))
    email: Mapped[str] = mapped_column(_text("customers.email"), default="")
    tier: Mapped[str] = mapped_column(String(32), default="standard")
    postcode: Mapped[str] = mapped_column(_text("customers.postcode"), default="")
    birth_date: Mapped[str] = mapped_column(_text("customers.birth_date"), default="")  # ISO yyyy-mm-dd
    language: Mapped[str] = mapped_column(String(16), default="en")
    preferences: Mapped[dict] = mapped_column(_json("customers.preferences"), default=dict)  # consent flags etc.
    failed_verifications: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    orders: Mapped[list["Order"]] = relationship(back_populates="customer", order_by="Order.id")


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    item: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(64), default="")
    total: Mapped[float] = mapped_column(Float, default=0.0)
    eta: Mapped[str] = mapped_column(String(64), default="")
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    customer: Mapped[Customer] = relationship(back_populates="orders")


class Consent(Base):
    """A caller's recording/transcription decision, remembered by phone (see ``storage.consent``)."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(_text("consents.phone"))  # kept so a rekey can recompute the hash
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    granted: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FlowVersion(Base):
    """Every saved version of a flow file, so an admin can roll back."""

    __tablename__ = "flow_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
from voicebot.storage import admin as _admin_tables  # noqa: E402,F401  (console users, audit, labels, model versions)
from voicebot.storage import conversation_tables as _conversation_tables  # noqa: E402,F401  (text channels: create_all sees them)
from voicebot.storage import callbacks as _callbacks  # noqa: E402,F401  (the callbacks table, for create_all)
from voicebot.storage import faq as _faq_tables  # noqa: E402,F401  (FAQ answers the bot speaks, their revision)
