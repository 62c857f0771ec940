"""``/admin/analytics``: containment, transfers and their reasons, abandonment, handle time,
intents, frustration over time, worst-understood prompts, latency p50/p95 per day and survey
satisfaction and its latest comments, for a date range, a channel and a flow (or one version of
it); ``/admin/analytics.csv`` exports the same numbers.
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
    """The numbers for the request's filters: date range, channel, and flow (``name`` for every
    version of a flow, ``name@sha256`` for one version; calls record the flow that served them)."""
    since, until, shown = date_range(request.args, default_days=30)
    channel = request.args.get("channel", "").strip()[:16]
    flow = request.args.get("flow", "").strip()[:200]
    rows = calls_with_turns(current_state().db, since=since, until=until)
    flows = sorted({(c["flow_name"], c["flow_version"]) for c in rows if c["flow_name"]})
    if channel:
        rows = [c for c in rows if c["channel"] == channel]
    if flow:
        name, _, version = flow.partition("@")
        rows = [c for c in rows if c["flow_name"] == name and (not version or c["flow_version"] == version)]
    return summarize(rows), {**shown, "channel": channel, "flow": flow, "flows": flows}


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
