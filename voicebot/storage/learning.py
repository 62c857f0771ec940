"""Reviewers' intent labels and intent model versions (tables in ``storage.admin``).

Labels: ``add_label`` appends; ``current_labels`` gives the newest label of every labelled turn
(a relabel replaces the earlier one, which stays in the table as history). Model versions:
every trained model is kept with its directory, data hash and metrics; at most one is active
(``activate`` switches atomically; ``deactivate_all`` returns to the flow's own model).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from voicebot.errors import AdminError
from voicebot.storage.admin import IntentLabel, IntentModelVersion
from voicebot.storage.db import Database
from voicebot.storage.encrypted import UnreadableValue


def add_label(db: Database, turn_id: int | None, text: str, label: str, labelled_by: str) -> int:
    label = (label or "").strip()
    if not label or len(label) > 64 or not label.replace("_", "").isalnum() or not label.islower():
        raise AdminError(f"intent {label!r}: use lowercase letters, digits and '_' (at most 64)")
    if not (text or "").strip():
        raise AdminError("nothing to label: the utterance is empty")
    with db.session() as s:
        row = IntentLabel(turn_id=turn_id, text=text.strip()[:1000], label=label, labelled_by=labelled_by)
        s.add(row)
        s.flush()
        return row.id


def current_labels(db: Database) -> list[dict[str, Any]]:
    """The newest label per turn (or per text, for labels without a turn), oldest first."""
    with db.session() as s:
        newest: dict[Any, dict] = {}
        for row in s.scalars(select(IntentLabel).order_by(IntentLabel.id)):
            if isinstance(row.text, UnreadableValue):
                continue
            key = ("turn", row.turn_id) if row.turn_id is not None else ("text", row.text)
            newest[key] = {"id": row.id, "turn_id": row.turn_id, "text": row.text, "label": row.label,
                           "labelled_by": row.labelled_by, "at": row.created_at.isoformat(timespec="seconds")}
        return sorted(newest.values(), key=lambda r: r["id"])


def add_model_version(db: Database, path: str, data_sha256: str, metrics: dict, created_by: str) -> int:
    with db.session() as s:
        row = IntentModelVersion(path=path, data_sha256=data_sha256, metrics=metrics, created_by=created_by)
        s.add(row)
        s.flush()
        return row.id


def model_versions(db: Database) -> list[dict[str, Any]]:
    """Every model version, newest first."""
    with db.session() as s:
        return [_version(v) for v in s.scalars(select(IntentModelVersion).order_by(IntentModelVersion.id.desc()))]


def active_version(db: Database) -> dict[str, Any] | None:
    with db.session() as s:
        v = s.scalar(select(IntentModelVersion).where(IntentModelVersion.active.is_(True)))
        return None if v is None else _version(v)


def activate(db: Database, version_id: int) -> None:
    """Make ``version_id`` the only active version; ``AdminError`` when it does not exist."""
    with db.session() as s:
        if s.get(IntentModelVersion, version_id) is None:
            raise AdminError(f"no intent model version {version_id}")
        s.execute(update(IntentModelVersion).values(active=False))
        s.execute(update(IntentModelVersion).where(IntentModelVersion.id == version_id).values(active=True))


def deactivate_all(db: Database) -> None:
    with db.session() as s:
        s.execute(update(IntentModelVersion).values(active=False))


def _version(v: IntentModelVersion) -> dict[str, Any]:
    metrics = v.metrics if isinstance(v.metrics, dict) else {}
    return {"id": v.id, "path": v.path, "data_sha256": v.data_sha256, "metrics": metrics, "active": bool(v.active),
            "created_by": v.created_by, "created_at": v.created_at.isoformat(timespec="seconds")}
