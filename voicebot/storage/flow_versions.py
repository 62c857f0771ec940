"""Saved versions of call flows (every valid version a server loaded), for history and rollback."""
from __future__ import annotations

from sqlalchemy import select

from voicebot.storage.db import Database
from voicebot.storage.tables import FlowVersion


def save_flow_version(db: Database, name: str, source: str, sha256: str) -> int:
    """Store a flow's text unless the newest saved version is identical; return that version's id."""
    with db.session() as session:
        latest = session.scalar(select(FlowVersion).where(FlowVersion.name == name).order_by(FlowVersion.id.desc()).limit(1))
        if latest is not None and latest.sha256 == sha256:
            return latest.id
        version = FlowVersion(name=name, source=source, sha256=sha256)
        session.add(version)
        session.flush()
        return version.id


def list_flow_versions(db: Database, name: str) -> list[dict]:
    """Saved versions of flow ``name``, newest first (without their text)."""
    with db.session() as session:
        rows = session.scalars(select(FlowVersion).where(FlowVersion.name == name).order_by(FlowVersion.id.desc())).all()
        return [{"id": v.id, "name": v.name, "sha256": v.sha256, "created_at": v.created_at.isoformat()} for v in rows]


def get_flow_version(db: Database, version_id: int) -> dict | None:
    """One saved version with its YAML ``source``, or None."""
    with db.session() as session:
        v = session.get(FlowVersion, version_id)
        if v is None:
            return None
        return {"id": v.id, "name": v.name, "sha256": v.sha256, "source": v.source, "created_at": v.created_at.isoformat()}
