"""``/admin/flows`` (admins): the flow files beside the configured flow (``VOICEBOT_FLOW``).

- list; a flow as a graph (``flow_graph``);
- edit: the text is validated on every save (``flows.loader.load_flow_text``); an invalid text is
  refused (422) with the validator's problems (file, line, sentence) and nothing is stored: the
  published file and the saved draft stay as they were. ``save`` keeps a valid text as the draft;
  ``publish`` writes it over the file (atomically), which a running server's ``FlowStore`` picks
  up on its next call, and saves it as a version (the text it replaced is saved first);
- history: saved versions (``storage.flow_versions``) with a diff against the published text and
  rollback (``session.flow_store.restore_version``: validated, then written).
Every change is audited.
"""
from __future__ import annotations

import difflib
import os
import re
import tempfile
from pathlib import Path

from flask import abort, g, redirect, render_template, request, url_for

from voicebot.errors import FlowError
from voicebot.flows.loader import Flow, load_flow, load_flow_text
from voicebot.session.flow_store import restore_version
from voicebot.storage import admin as store
from voicebot.storage import flow_versions
from voicebot.web.admin import bp
from voicebot.web.admin.auth import record, require
from voicebot.web.admin.flow_graph import layout
from voicebot.web.state import current_state

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")
MAX_FLOW_CHARS = 60_000


def flow_dir() -> Path:
    return Path(current_state().settings.flow_path).resolve().parent


def flow_file(file: str) -> Path:
    """The flow file ``<file>.yaml`` in ``flow_dir()``; 404 for any other name."""
    path = flow_dir() / f"{file}.yaml"
    if not FILE_NAME.match(file) or not path.is_file():
        abort(404, description=f"no flow file {file}.yaml")
    return path


def known_sources() -> tuple:
    pipeline = current_state().pipeline
    return tuple(getattr(getattr(pipeline, "flow_store", None), "known_sources", ()))


def validate(source: str, path: Path) -> Flow:
    """The flow ``source`` would be at ``path``; ``FlowError`` with every problem if invalid."""
    return load_flow_text(source, str(path), path.parent, known_sources())


def published(path: Path) -> tuple[Flow | None, str]:
    try:
        return load_flow(path, known_sources()), ""
    except FlowError as exc:
        return None, str(exc)


@bp.get("/flows")
@require("flows")
def flow_list():
    live = Path(current_state().settings.flow_path).resolve()
    rows = []
    for path in sorted(flow_dir().glob("*.yaml")):
        flow, error = published(path)
        rows.append({"file": path.stem, "name": flow.name if flow else "", "error": error, "live": path == live,
                     "nodes": len(flow.nodes) if flow else 0, "draft": store.get_draft(current_state().db, path.stem)})
    return render_template("admin/flows.html", flows=rows)


@bp.get("/flows/<file>")
@require("flows")
def flow_view(file: str):
    path = flow_file(file)
    flow, error = published(path)
    return render_template("admin/flow.html", file=file, flow=flow, error=error,
                           graph=layout(flow) if flow else None)


@bp.route("/flows/<file>/edit", methods=["GET", "POST"])
@require("flows")
def flow_edit(file: str):
    path, db = flow_file(file), current_state().db
    if request.method == "GET":
        draft = store.get_draft(db, file)
        source = draft["source"] if draft else path.read_text(encoding="utf-8")
        return render_template("admin/flow_edit.html", file=file, source=source, problems=[], draft=draft,
                               message=request.args.get("message", ""))
    source = request.form.get("source", "").replace("\r\n", "\n")
    action = request.form.get("action", "save")
    if action not in ("save", "publish"):
        abort(400, description="action must be save or publish")
    problems = _problems(source, path)
    if problems:
        record("flow.refused", file, attempted=action, problems=len(problems))
        return render_template("admin/flow_edit.html", file=file, source=source, problems=problems,
                               draft=store.get_draft(db, file), message=""), 422
    if action == "save":
        store.save_draft(db, file, source, g.admin_user["name"])
        record("flow.draft", file)
        return redirect(url_for("admin.flow_edit", file=file, message="draft saved (not live yet)"))
    flow = publish(path, source)
    record("flow.publish", file, sha256=flow.sha256, name=flow.name)
    return redirect(url_for("admin.flow_edit", file=file, message=f"published {flow.sha256[:12]}"))


def _problems(source: str, path: Path) -> list[dict]:
    if len(source) > MAX_FLOW_CHARS:
        return [{"file": str(path), "line": 1, "message": f"the flow is longer than {MAX_FLOW_CHARS} characters"}]
    try:
        validate(source, path)
        return []
    except FlowError as exc:
        return [p.to_dict() for p in exc.problems] or [{"file": str(path), "line": 1, "message": str(exc)}]


def publish(path: Path, source: str) -> Flow:
    """Validate ``source``, save the text it replaces and itself as versions, write it over ``path``."""
    db = current_state().db
    flow = validate(source, path)
    old, _ = published(path)
    if old is not None:
        flow_versions.save_flow_version(db, old.name, old.source, old.sha256)
    _write(path, source)
    flow_versions.save_flow_version(db, flow.name, flow.source, flow.sha256)
    store.drop_draft(db, path.stem)
    _reload_live(path)
    return flow


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".publish-", suffix=".yaml", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def _reload_live(path: Path) -> None:
    """A running server's flow store reads its file again now rather than at the next call."""
    flow_store = getattr(current_state().pipeline, "flow_store", None)
    if flow_store is not None and Path(flow_store.path).resolve() == path.resolve():
        flow_store.current()


@bp.get("/flows/<file>/history")
@require("flows")
def flow_history(file: str):
    path = flow_file(file)
    flow, error = published(path)
    versions = flow_versions.list_flow_versions(current_state().db, flow.name) if flow else []
    return render_template("admin/flow_history.html", file=file, flow=flow, error=error, versions=versions)


@bp.get("/flows/<file>/diff/<int:version_id>")
@require("flows")
def flow_diff(file: str, version_id: int):
    path = flow_file(file)
    saved = flow_versions.get_flow_version(current_state().db, version_id)
    if saved is None:
        abort(404, description=f"no flow version {version_id}")
    current = path.read_text(encoding="utf-8")
    lines = list(difflib.unified_diff(saved["source"].splitlines(), current.splitlines(),
                                      f"version {version_id}", "published", lineterm=""))
    return render_template("admin/flow_diff.html", file=file, version=saved, lines=lines)


@bp.post("/flows/<file>/rollback/<int:version_id>")
@require("flows")
def flow_rollback(file: str, version_id: int):
    path, db = flow_file(file), current_state().db
    old, _ = published(path)
    if old is not None:
        flow_versions.save_flow_version(db, old.name, old.source, old.sha256)
    try:
        flow = restore_version(path, db, version_id, known_sources())
    except FlowError as exc:
        record("flow.rollback.refused", file, version=version_id, error=str(exc)[:200])
        return render_template("admin/flow_edit.html", file=file, source=path.read_text(encoding="utf-8"),
                               problems=[{"file": str(path), "line": 1, "message": str(exc)}], draft=None, message=""), 422
    _reload_live(path)
    record("flow.rollback", file, version=version_id, sha256=flow.sha256)
    return redirect(url_for("admin.flow_history", file=file))
