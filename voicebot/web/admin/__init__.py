"""The admin console at ``/admin``: one blueprint, one module per page area.

``auth`` (login, logout, roles, audit helper), ``dashboard`` (``/admin``, ``/admin/audit``),
``calls`` (search and call pages), ``analytics`` (charts, CSV), ``flows`` (graph, edit, history,
publish, try a draft), ``review`` (relabel, retrain behind the evaluation gate, rollback), ``faq_answers`` (the
FAQ answers the bot speaks).
Pages are server-rendered (templates/admin), scripts are static files (the CSP forbids inline
ones), forms carry Flask-WTF CSRF tokens.
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from voicebot.web.admin import analytics, auth, calls, dashboard, faq_answers, flow_try, flows, models, review  # noqa: E402,F401  (routes on bp)
