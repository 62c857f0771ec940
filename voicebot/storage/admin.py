"""The admin console's tables and their one owner: console users (argon2id hashes, roles), the
audit log, reviewers' intent labels and intent model versions.

Users: ``create_user`` refuses an existing name or an unknown role (``AdminError``); the password
is stored only as a ``security.passwords`` hash. Audit: ``audit`` appends one entry (who, what,
when, target, details) and entries are never changed or deleted by this module. Labels hold a
caller's words (already redacted when the call stored them), so their text is encrypted at rest.
Every function runs one short transaction and returns plain values, never ORM objects.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.errors import AdminError
from voicebot.storage.tables import Base, _json, _text, utcnow

if TYPE_CHECKING:  # storage.db imports tables, which imports this module
    from voicebot.storage.db import Database

ROLES = ("admin", "supervisor", "analyst")


class AdminUser(Base):
    __tablename__ = "admin_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """One thing a console user did (or was refused): never updated, never deleted here."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict] = mapped_column(_json("audit_log.details"), default=dict)


class IntentLabel(Base):
    """A reviewer's intent for a stored caller turn (the newest label of a turn wins)."""

    __tablename__ = "intent_labels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    text: Mapped[str] = mapped_column(_text("intent_labels.text"))
    label: Mapped[str] = mapped_column(String(64))
    labelled_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IntentModelVersion(Base):
    """A trained intent model: where it is, the hash of its data, its metrics, whether it is live."""

    __tablename__ = "intent_model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    data_sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict] = mapped_column(_json("intent_model_versions.metrics"), default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FlowDraft(Base):
    """An admin's unpublished edit of a flow file (one per file; validated before it was saved)."""

    __tablename__ = "flow_drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    source: Mapped[str] = mapped_column(Text)
    saved_by: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- users ------------------------------------------------------------------------------------------

def create_user(db: Database, name: str, password_hash: str, role: str) -> int:
    """Add a console user; ``AdminError`` for a bad name or role, or a name already taken."""
    name = (name or "").strip()
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise AdminError(f"user name {name!r}: use 1-64 letters, digits, '.', '-' or '_'")
    if role not in ROLES:
        raise AdminError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    with db.session() as s:
        if s.scalar(select(AdminUser).where(AdminUser.name == name)) is not None:
            raise AdminError(f"user {name!r} already exists")
        user = AdminUser(name=name, password_hash=password_hash, role=role)
        s.add(user)
        s.flush()
        return user.id


def get_user(db: Database, name: str) -> dict[str, Any] | None:
    """``{id, name, role, password_hash}`` of user ``name``, or None."""
    with db.session() as s:
        user = s.scalar(select(AdminUser).where(AdminUser.name == name))
        return None if user is None else {"id": user.id, "name": user.name, "role": user.role,
                                          "password_hash": user.password_hash}


def set_password_hash(db: Database, name: str, password_hash: str) -> None:
    with db.session() as s:
        user = s.scalar(select(AdminUser).where(AdminUser.name == name))
        if user is not None:
            user.password_hash = password_hash


def list_users(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        return [{"name": u.name, "role": u.role, "created_at": u.created_at.isoformat()}
                for u in s.scalars(select(AdminUser).order_by(AdminUser.name))]


def count_users(db: Database) -> int:
    return len(list_users(db))


# -- audit ------------------------------------------------------------------------------------------

def audit(db: Database, actor: str, action: str, target: str = "", details: dict[str, Any] | None = None) -> int:
    """Append one audit entry; its id."""
    with db.session() as s:
        entry = AuditEntry(actor=actor[:64], action=action[:64], target=str(target)[:255], details=details or {})
        s.add(entry)
        s.flush()
        return entry.id


def audit_entries(db: Database, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
    """The newest audit entries first (``action`` filters by exact action)."""
    with db.session() as s:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if action:
            query = query.where(AuditEntry.action == action)
        return [{"id": e.id, "at": e.at.isoformat(timespec="seconds"), "actor": e.actor, "action": e.action,
                 "target": e.target, "details": e.details if isinstance(e.details, dict) else {}}
                for e in s.scalars(query)]


# -- flow drafts ------------------------------------------------------------------------------------

def save_draft(db: Database, file: str, source: str, saved_by: str) -> None:
    """Keep ``source`` as the draft of flow file ``file`` (replacing an older draft)."""
    with db.session() as s:
        draft = s.scalar(select(FlowDraft).where(FlowDraft.file == file))
        if draft is None:
            s.add(FlowDraft(file=file, source=source, saved_by=saved_by))
        else:
            draft.source, draft.saved_by, draft.saved_at = source, saved_by, utcnow()


def get_draft(db: Database, file: str) -> dict[str, Any] | None:
    with db.session() as s:
        d = s.scalar(select(FlowDraft).where(FlowDraft.file == file))
        return None if d is None else {"source": d.source, "saved_by": d.saved_by, "saved_at": d.saved_at.isoformat()}


def drop_draft(db: Database, file: str) -> None:
    with db.session() as s:
        d = s.scalar(select(FlowDraft).where(FlowDraft.file == file))
        if d is not None:
            s.delete(d)
