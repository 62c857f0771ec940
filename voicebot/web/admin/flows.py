"""``/admin/flows`` (admins): the flows in the console (work in progress)."""
from __future__ import annotations

from flask import render_template_string

from voicebot.web.admin import bp
from voicebot.web.admin.auth import require


@bp.get("/flows")
@require("flows")
def flow_list():
    return render_template_string('{% extends "admin/base.html" %}{% block main %}<h1>Flows</h1>{% endblock %}')
