"""``/admin/models`` (admins, supervisors): intent model versions, retraining and rollback.

Retrain (``POST /admin/models/retrain``) trains a candidate on the live flow's phrases plus the
reviewers' labels that are not held back (``nlu.retrain``, frozen encoder: seconds), measures it
and the active model (the active version, else the flow's own model) on the held-back labels,
keeps the candidate as a version with its data hash and both reports, and activates it only
when the gate passes; the live pipeline switches at once. Rollback activates an earlier version
or goes back to the flow's own model. Every step is audited.
"""
from __future__ import annotations

import time
from pathlib import Path

from flask import abort, g, redirect, render_template, url_for

from voicebot.errors import AdminError, NLUError
from voicebot.nlu import retrain
from voicebot.storage import learning
from voicebot.web.admin import bp
from voicebot.web.admin.auth import record, require
from voicebot.web.admin.review import live_flow
from voicebot.web.state import current_state


@bp.get("/models")
@require("review")
def models():
    db = current_state().db
    labels = learning.current_labels(db)
    held = sum(retrain.held_back(row["text"]) for row in labels)
    return render_template("admin/models.html", versions=learning.model_versions(db), labels=len(labels), held=held,
                           report=None)


def _active_understander(flow):
    state = current_state()
    active = learning.active_version(state.db)
    if active is not None:
        from voicebot.nlu.understander import Understander

        return Understander.load(active["path"]), f"version {active['id']}"
    if state.pipeline is not None:
        return state.pipeline.understander(flow), "the flow's own model"
    return retrain.train_candidate(flow.intents), "the flow's own model"


@bp.post("/models/retrain")
@require("review")
def retrain_model():
    state = current_state()
    flow = live_flow()
    pairs = [(row["text"], row["label"]) for row in learning.current_labels(state.db)]
    examples = retrain.training_examples(flow.intents, pairs)
    texts, gold = retrain.held_back_set(pairs)
    try:
        active, active_name = _active_understander(flow)
        candidate = retrain.train_candidate(examples)
        report = retrain.compare(active, candidate, texts, gold)
    except NLUError as exc:
        record("model.retrain.refused", flow.name, error=str(exc)[:300])
        return render_template("admin/models.html", versions=learning.model_versions(state.db), labels=len(pairs),
                               held=len(texts), report=None, error=str(exc)), 422
    data_hash = retrain.data_hash(examples)
    out = Path(state.settings.data_dir) / "intent-models" / f"{time.strftime('%Y%m%dT%H%M%S')}-{data_hash[:12]}"
    candidate.save(out, {"on": "held-back labels", **report["candidate"]})
    report.update(compared_with=active_name, flow=flow.name, flow_sha256=flow.sha256, labels=len(pairs))
    version_id = learning.add_model_version(state.db, str(out), data_hash, report, g.admin_user["name"])
    if report["passed"]:
        _switch(version_id, str(out))
    record("model.retrain", f"version {version_id}", passed=report["passed"], reason=report["reason"])
    return render_template("admin/models.html", versions=learning.model_versions(state.db), labels=len(pairs),
                           held=len(texts), report=dict(report, version_id=version_id))


@bp.post("/models/<int:version_id>/activate")
@require("review")
def activate_model(version_id: int):
    version = next((v for v in learning.model_versions(current_state().db) if v["id"] == version_id), None)
    if version is None:
        abort(404, description=f"no intent model version {version_id}")
    if not Path(version["path"]).is_dir():
        abort(409, description=f"version {version_id}'s files are gone from {version['path']}")
    try:
        _switch(version_id, version["path"])
    except AdminError as exc:
        abort(400, description=str(exc))
    record("model.rollback", f"version {version_id}")
    return redirect(url_for("admin.models"))


@bp.post("/models/baseline")
@require("review")
def baseline_model():
    learning.deactivate_all(current_state().db)
    pipeline = current_state().pipeline
    if pipeline is not None:
        pipeline.intent_model_dir = None
    record("model.rollback", "the flow's own model")
    return redirect(url_for("admin.models"))


def _switch(version_id: int, path: str) -> None:
    """Activate a version in the database and in the running pipeline (new calls use it)."""
    learning.activate(current_state().db, version_id)
    pipeline = current_state().pipeline
    if pipeline is not None:
        pipeline.intent_model_dir = path
