"""FAQ answers admins write in the console (question variants + answer) and their one owner.

Every write (add, edit, delete) bumps a single revision counter in the same transaction, so a
reader can cache the answers and reload them only when ``revision(db)`` changed: an edit is seen
by the very next caller turn, on every channel and every worker sharing the database.
``AdminError`` for an empty answer, no usable variant, or an unknown id. Plain values out.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.errors import AdminError
from voicebot.storage.tables import Base, utcnow

if TYPE_CHECKING:  # storage.db imports tables, which imports this module
    from voicebot.storage.db import Database

MAX_VARIANTS = 50
MAX_ANSWER = 1000


class FaqAnswer(Base):
    __tablename__ = "faq_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    variants: Mapped[list] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FaqRevision(Base):
    """One row: a counter bumped by every FAQ write (readers' cache key)."""

    __tablename__ = "faq_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


def clean(variants: list[str] | str, answer: str) -> tuple[list[str], str]:
    """Variants (one per line when a string) trimmed and de-duplicated, and the answer; or ``AdminError``."""
    if isinstance(variants, str):
        variants = variants.splitlines()
    seen: list[str] = []
    for v in variants:
        v = " ".join(str(v).split())
        if v and v.lower() not in {s.lower() for s in seen}:
            seen.append(v[:300])
    answer = " ".join((answer or "").split())
    if not seen:
        raise AdminError("give at least one question variant (one per line)")
    if len(seen) > MAX_VARIANTS:
        raise AdminError(f"at most {MAX_VARIANTS} question variants")
    if not answer:
        raise AdminError("the answer is empty")
    if "{" in answer or "}" in answer:
        raise AdminError("the answer may not contain { or }: the bot would read them as a flow variable")
    if len(answer) > MAX_ANSWER:
        raise AdminError(f"the answer is longer than {MAX_ANSWER} characters")
    return seen, answer


def add_answer(db: Database, variants: list[str] | str, answer: str, by: str) -> int:
    variants, answer = clean(variants, answer)
    with db.session() as s:
        row = FaqAnswer(variants=variants, answer=answer, updated_by=by[:64])
        s.add(row)
        _bump(s)
        s.flush()
        return row.id


def edit_answer(db: Database, faq_id: int, variants: list[str] | str, answer: str, by: str) -> None:
    variants, answer = clean(variants, answer)
    with db.session() as s:
        row = s.get(FaqAnswer, faq_id)
        if row is None:
            raise AdminError(f"no FAQ answer {faq_id}")
        row.variants, row.answer, row.updated_by, row.updated_at = variants, answer, by[:64], utcnow()
        _bump(s)


def delete_answer(db: Database, faq_id: int) -> None:
    with db.session() as s:
        row = s.get(FaqAnswer, faq_id)
        if row is None:
            raise AdminError(f"no FAQ answer {faq_id}")
        s.delete(row)
        _bump(s)


def answers(db: Database) -> list[dict[str, Any]]:
    """Every FAQ answer, oldest first: ``{id, variants, answer, updated_by, updated_at}``."""
    with db.session() as s:
        return [{"id": r.id, "variants": list(r.variants or []), "answer": r.answer, "updated_by": r.updated_by,
                 "updated_at": r.updated_at.isoformat(timespec="seconds")}
                for r in s.scalars(select(FaqAnswer).order_by(FaqAnswer.id))]


def get_answer(db: Database, faq_id: int) -> dict[str, Any] | None:
    return next((a for a in answers(db) if a["id"] == faq_id), None)


def revision(db: Database) -> int:
    """The FAQ revision counter (0 before any write): changes whenever any answer changes."""
    with db.session() as s:
        row = s.get(FaqRevision, 1)
        return 0 if row is None else row.value


def _bump(s) -> None:
    row = s.get(FaqRevision, 1)
    if row is None:
        s.add(FaqRevision(id=1, value=1))
    else:
        row.value += 1
