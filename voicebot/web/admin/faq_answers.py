"""``/admin/faq`` (admins): the FAQ answers the bot speaks when a caller's words match no flow
intent but are close to one of an answer's question variants (``session.faq``). Add, edit and
delete are audited and take effect from the next caller turn on every channel (the revision
counter in ``storage.faq``). A FAQ candidate (``/admin/review/faq``) becomes an answer in one
step: its questions are the variants. Bad input is refused with 400 and the form shows what
was typed, with the reason; nothing is stored.
"""
from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from voicebot.errors import AdminError
from voicebot.storage import faq
from voicebot.web.admin import bp
from voicebot.web.admin.auth import record, require
from voicebot.web.state import current_state


def _page(error: str | None = None, form: dict | None = None, status: int = 200):
    rows = faq.answers(current_state().db)
    return render_template("admin/faq_answers.html", rows=rows, error=error, form=form or {}), status


@bp.get("/faq")
@require("faq")
def faq_answers():
    return _page()


@bp.post("/faq")
@require("faq")
def faq_add():
    variants, answer = request.form.get("variants", ""), request.form.get("answer", "")
    if request.form.get("question"):  # from a FAQ candidate: each question is a variant
        variants = "\n".join(request.form.getlist("question"))
    try:
        faq_id = faq.add_answer(current_state().db, variants, answer, g.admin_user["name"])
    except AdminError as exc:
        record("faq.refused", "new", reason=str(exc))
        return _page(str(exc), {"variants": variants, "answer": answer}, 400)
    record("faq.add", f"faq {faq_id}", variants=len(faq.clean(variants, answer)[0]),
           from_candidate=bool(request.form.get("question")))
    return redirect(url_for("admin.faq_answers"))


@bp.post("/faq/<int:faq_id>")
@require("faq")
def faq_edit(faq_id: int):
    variants, answer = request.form.get("variants", ""), request.form.get("answer", "")
    try:
        faq.edit_answer(current_state().db, faq_id, variants, answer, g.admin_user["name"])
    except AdminError as exc:
        record("faq.refused", f"faq {faq_id}", reason=str(exc))
        status = 404 if str(exc).startswith("no FAQ answer") else 400
        return _page(str(exc), {"id": faq_id, "variants": variants, "answer": answer}, status)
    record("faq.edit", f"faq {faq_id}")
    return redirect(url_for("admin.faq_answers"))


@bp.post("/faq/<int:faq_id>/delete")
@require("faq")
def faq_delete(faq_id: int):
    try:
        faq.delete_answer(current_state().db, faq_id)
    except AdminError as exc:
        return _page(str(exc), None, 404)
    record("faq.delete", f"faq {faq_id}")
    return redirect(url_for("admin.faq_answers"))
