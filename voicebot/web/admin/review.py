"""``/admin/review`` (admins, supervisors): the review queue (work in progress)."""
from __future__ import annotations

from flask import render_template_string

from voicebot.web.admin import bp
from voicebot.web.admin.auth import require


@bp.get("/review")
@require("review")
def review_queue():
    return render_template_string('{% extends "admin/base.html" %}{% block main %}<h1>Review</h1>{% endblock %}')


@bp.get("/models")
@require("review")
def models():
    return render_template_string('{% extends "admin/base.html" %}{% block main %}<h1>Models</h1>{% endblock %}')
