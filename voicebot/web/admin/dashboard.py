"""``/admin``: the dashboard (the last 30 days at a glance, with charts) and ``/admin/audit``
(the audit log, admins only)."""
from __future__ import annotations

from flask import render_template, request

from voicebot.storage import admin as store
from voicebot.storage.call_queries import calls_with_turns
from voicebot.web.admin import bp
from voicebot.web.admin.aggregates import summarize
from voicebot.web.admin.auth import require
from voicebot.web.admin.filters import date_range
from voicebot.web.state import current_state


@bp.get("/")
@require("dashboard")
def dashboard():
    since, until, shown = date_range(request.args, default_days=30)
    summary = summarize(calls_with_turns(current_state().db, since=since, until=until))
    return render_template("admin/dashboard.html", summary=summary, shown=shown, chart_data=chart_data(summary))


@bp.get("/audit")
@require("audit")
def audit_log():
    action = request.args.get("action", "").strip()
    entries = store.audit_entries(current_state().db, limit=500, action=action or None)
    return render_template("admin/audit.html", entries=entries, action=action)


def chart_data(summary: dict) -> dict:
    """What static/admin/charts.js draws: one entry per canvas id."""
    latency = summary["latency_by_day"]
    return {
        "outcomes": {"type": "doughnut", "labels": list(summary["outcomes"]), "series": {"calls": list(summary["outcomes"].values())}},
        "intents": {"type": "bar", "labels": list(summary["intent_distribution"]),
                    "series": {"caller turns": list(summary["intent_distribution"].values())}},
        "latency": {"type": "line", "labels": list(latency),
                    "series": {"p50 ms": [v["p50"] for v in latency.values()], "p95 ms": [v["p95"] for v in latency.values()]}},
        "frustration": {"type": "line", "labels": list(summary["frustration_by_day"]),
                        "series": {"mean peak frustration": list(summary["frustration_by_day"].values())}},
        "reasons": {"type": "bar", "labels": list(summary["transfer_reasons"]),
                    "series": {"transfers": list(summary["transfer_reasons"].values())}},
    }
