"""The live flow of a running server: reloads the file when it changes, keeps the last good
version when an edit is invalid, saves every good version in ``flow_versions`` for rollback.

``FlowStore.current()`` is cheap (one ``stat``) and safe to call at the start of every call;
calls already in progress keep the ``Flow`` object they started with.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Iterable

from voicebot.errors import FlowError
from voicebot.flows.loader import Flow, load_flow, load_flow_text
from voicebot.storage import flow_versions
from voicebot.storage.db import Database

log = logging.getLogger(__name__)


class FlowStore:
    """The flow at ``path``, reloaded on change. The first load must succeed (raises ``FlowError``)."""

    def __init__(self, path: str | os.PathLike, db: Database | None = None, known_sources: Iterable[str] = ()):
        self.path = Path(path)
        self.db = db
        self.known_sources = tuple(known_sources)
        self.last_error: FlowError | None = None  # why the newest edit was rejected, if it was
        self.version_id: int | None = None
        self._lock = threading.Lock()
        self._signature = self._stat()
        self._flow = self._load()

    def current(self) -> Flow:
        """The newest valid flow; re-reads the file if its modification time or size changed."""
        signature = self._stat()
        if signature == self._signature:
            return self._flow
        with self._lock:
            if signature != self._signature:
                self._signature = signature
                try:
                    self._flow = self._load()
                    self.last_error = None
                except FlowError as exc:
                    self.last_error = exc
                    log.warning("flow %s rejected, keeping the previous version: %s", self.path, exc)
        return self._flow

    def versions(self) -> list[dict]:
        """Saved versions of this flow, newest first (empty without a database)."""
        return flow_versions.list_flow_versions(self.db, self._flow.name) if self.db else []

    def rollback(self, version_id: int) -> Flow:
        """Make saved version ``version_id`` live again: validate it, write it to the file, reload."""
        if self.db is None:
            raise FlowError("rollback needs a database of saved flow versions")
        restore_version(self.path, self.db, version_id, self.known_sources)
        with self._lock:
            self._signature = self._stat()
            self._flow = self._load()
            self.last_error = None
        return self._flow

    def _load(self) -> Flow:
        flow = load_flow(self.path, self.known_sources)
        if self.db is not None:
            self.version_id = flow_versions.save_flow_version(self.db, flow.name, flow.source, flow.sha256)
        log.info("flow %s loaded (%s nodes, sha256 %s)", flow.name, len(flow.nodes), flow.sha256[:12])
        return flow

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size


def restore_version(path: str | os.PathLike, db: Database, version_id: int, known_sources: Iterable[str] = ()) -> Flow:
    """Write saved version ``version_id`` over the flow file at ``path`` after validating it.

    Works when the file itself is currently invalid (the usual reason to roll back); a live
    ``FlowStore`` picks the restored file up on its next ``current()``."""
    path = Path(path)
    saved = flow_versions.get_flow_version(db, version_id)
    if saved is None:
        raise FlowError(f"flow version {version_id} does not exist")
    flow = load_flow_text(saved["source"], str(path), path.resolve().parent, known_sources)
    path.write_text(saved["source"], encoding="utf-8")
    return flow
