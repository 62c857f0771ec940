"""``/admin/analytics``: containment, transfers and their reasons, abandonment, handle time,
intents, frustration over time, worst-understood prompts, latency p50/p95 per day and survey
satisfaction, for a date range; ``/admin/analytics.csv`` exports the same numbers.
The numbers come from ``web.admin.aggregates`` (pure, unit-tested)."""
from __future__ import annotations

import csv
import io

from flask import Response, render_template, request

from voicebot.storage.call_queries import calls_with_turns
from voicebot.web.admin import bp
from voicebot.web.admin.aggregates import csv_rows, summarize
from voicebot.web.admin.auth import record, require
from voicebot.web.admin.dashboard import chart_data
from voicebot.web.admin.filters import date_range
from voicebot.web.state import current_state


def _summary():
    since, until, shown = date_range(request.args, default_days=30)
    channel = request.args.get("channel", "").strip()[:16]
    rows = calls_with_turns(current_state().db, since=since, until=until)
    if channel:
        rows = [c for c in rows if c["channel"] == channel]
    return summarize(rows), {**shown, "channel": channel}


@bp.get("/analytics")
@require("analytics")
def analytics():
    summary, shown = _summary()
    return render_template("admin/analytics.html", summary=summary, shown=shown, chart_data=chart_data(summary))


@bp.get("/analytics.csv")
@require("analytics")
def analytics_csv():
    summary, shown = _summary()
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(summary))
    record("analytics.export", f"{shown['from']}..{shown['to']}")
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=voicebot-analytics.csv"})
