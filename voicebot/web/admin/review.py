"""``/admin/review`` (admins, supervisors): caller turns the bot was unsure about (out of scope,
low confidence, or the last words before a transfer), each with one button per intent of the
live flow and a field for a new intent. A label is stored (``storage.learning``) and audited;
``/admin/models`` retrains from the labels (``web.admin.models``)."""
from __future__ import annotations

import re

from flask import abort, g, redirect, render_template, request, url_for

from voicebot.errors import AdminError, FlowError
from voicebot.flows.loader import load_flow
from voicebot.nlu.retrain import held_back
from voicebot.storage import faq, learning
from voicebot.storage.call_queries import caller_turn, review_candidates
from voicebot.web.admin import bp
from voicebot.web.admin.auth import record, require
from voicebot.web.state import current_state


def live_flow():
    """The flow new calls get: the running pipeline's, else the configured file."""
    state = current_state()
    if state.pipeline is not None:
        return state.pipeline.current_flow()
    return load_flow(state.settings.flow_path)


def flow_intents() -> list[str]:
    try:
        return sorted(i for i in live_flow().intents if i != "oos")
    except FlowError:
        return []


@bp.get("/review")
@require("review")
def review_queue():
    db = current_state().db
    labelled = {row["turn_id"]: row["label"] for row in learning.current_labels(db)}
    show_done = request.args.get("all") == "1"
    items = [dict(item, label=labelled.get(item["turn_id"]), held_back=held_back(item["text"]))
             for item in review_candidates(db) if show_done or item["turn_id"] not in labelled]
    return render_template("admin/review.html", items=items, intents=flow_intents() + ["oos"], show_done=show_done,
                           labelled=len(labelled))


@bp.post("/review/<int:turn_id>/label")
@require("review")
def label_turn(turn_id: int):
    db = current_state().db
    turn = caller_turn(db, turn_id)
    if turn is None:
        abort(404, description=f"no caller turn {turn_id}")
    label = (request.form.get("label") or request.form.get("new_label") or "").strip().lower()
    label = re.sub(r"[\s-]+", "_", label)
    try:
        learning.add_label(db, turn_id, turn["text"], label, g.admin_user["name"])
    except AdminError as exc:
        abort(400, description=str(exc))
    record("review.label", f"turn {turn_id}", label=label, was=turn["intent"], call_sid=turn["call_sid"])
    return redirect(url_for("admin.review_queue"))


@bp.get("/review/faq")
@require("review")
def faq_candidates():
    """Unanswered (out-of-scope, unlabelled) questions grouped by meaning: FAQ candidates."""
    from voicebot.nlu.embeddings import get_embedder
    from voicebot.nlu.faq_clusters import cluster_questions

    db = current_state().db
    labelled = {row["turn_id"] for row in learning.current_labels(db)}
    answered = {v.lower() for row in faq.answers(db) for v in row["variants"]}
    items = [i for i in review_candidates(db, limit=500)  # unanswered: no label, no FAQ answer given or written for it
             if i["reason"] == "out of scope" and i["turn_id"] not in labelled and i["faq_id"] is None
             and " ".join(i["text"].split()).lower() not in answered]
    texts = [i["text"] for i in items]
    groups = cluster_questions(texts, get_embedder().embed(texts)) if len(texts) >= 2 else []
    turn_of = {i["text"]: i["turn_id"] for i in items}
    for group in groups:
        group["turn_ids"] = sorted({turn_of[q] for q in group["questions"]})
    return render_template("admin/faq.html", groups=groups, unanswered=len(texts))


@bp.post("/review/faq/label")
@require("review")
def label_group():
    """Label every turn of a FAQ candidate with one (new) intent."""
    db = current_state().db
    label = re.sub(r"[\s-]+", "_", request.form.get("new_label", "").strip().lower())
    turn_ids = [int(t) for t in request.form.getlist("turn_id") if t.isdigit()][:200]
    turns = [t for t in (caller_turn(db, i) for i in turn_ids) if t is not None]
    if not turns:
        abort(400, description="no caller turns given")
    try:
        for turn in turns:
            learning.add_label(db, turn["id"], turn["text"], label, g.admin_user["name"])
    except AdminError as exc:
        abort(400, description=str(exc))
    record("review.faq_label", label, turns=len(turns))
    return redirect(url_for("admin.faq_candidates"))
