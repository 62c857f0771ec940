"""``/admin/calls``: search calls (date range, outcome, intent, emotion, channel, customer phone) and
``/admin/calls/<sid>``: one call's transcript with per-turn confidence, intent, frustration and
latency, and its transfers with their context. Analysts see every line and context redacted
(``privacy.redaction``) and the caller's number masked. Read-only: nothing here writes calls."""
from __future__ import annotations

from flask import abort, g, render_template, request

from voicebot.privacy.redaction import redact_text
from voicebot.storage import calls as call_store
from voicebot.storage.call_queries import search_calls
from voicebot.web.admin import bp
from voicebot.web.admin.auth import record, require
from voicebot.web.admin.filters import date_range
from voicebot.web.state import current_state

OUTCOMES = ("contained", "transferred", "abandoned")


def _redacted_view() -> bool:
    return g.admin_user["role"] == "analyst"


def _mask(phone: str) -> str:
    return "***" + phone[-2:] if len(phone) > 4 else ("***" if phone else "")


@bp.get("/calls")
@require("calls")
def call_list():
    since, until, shown = date_range(request.args)
    filters = {k: request.args.get(k, "").strip()[:64] for k in ("outcome", "intent", "channel", "customer", "emotion")}
    if filters["outcome"] and filters["outcome"] not in OUTCOMES:
        abort(400, description=f"outcome must be one of {', '.join(OUTCOMES)}")
    rows = search_calls(current_state().db, since=since, until=until, outcome=filters["outcome"],
                        intent=filters["intent"], channel=filters["channel"], caller=filters["customer"],
                        emotion=filters["emotion"])
    if _redacted_view():
        for row in rows:
            row["caller"] = _mask(row["caller"])
    return render_template("admin/calls.html", calls=rows, shown={**shown, **filters}, outcomes=OUTCOMES)


@bp.get("/calls/<call_sid>")
@require("calls")
def call_page(call_sid: str):
    state = current_state()
    call = call_store.load_call(state.db, call_sid[:64])
    if call is None:
        abort(404, description=f"no call {call_sid}")
    transfers = [call_store.load_transfer(state.db, i) for i in call["transfer_ids"]]
    transfers = [t for t in transfers if t is not None]
    redacted = _redacted_view()
    if redacted:
        call["caller"], call["called"] = _mask(call["caller"]), _mask(call["called"])
        for turn in call["transcript"]:
            turn["text"] = redact_text(turn["text"])
            if turn["details"].get("comment"):  # a survey comment is the caller's words too
                turn["details"]["comment"] = redact_text(str(turn["details"]["comment"]))
        transfers = [{"destination": _mask(t["destination"]), "reason": t["reason"], "created_at": t["created_at"],
                      "context": {"summary": redact_text(str(t["context"].get("summary", "")))}} for t in transfers]
    record("call.view", call_sid, redacted=redacted)
    frustration = [{"x": f"line {i}", "y": t["frustration"]} for i, t in enumerate(call["transcript"], start=1)
                   if t["speaker"] == "caller" and t["frustration"] is not None]
    chart = {"frustration": {"type": "line", "labels": [p["x"] for p in frustration],
                             "series": {"frustration": [p["y"] for p in frustration]}}}
    return render_template("admin/call.html", call=call, transfers=transfers, redacted=redacted, chart_data=chart)
