"""What a human agent opens when a call is handed over: the transfer record with its context
and the call's transcript. ``GET /agent/transfers/<id>`` (JSON), ``.../view`` (plain HTML, an
"at a glance" box first: who, why, frustration over the call, what is known), ``/agent/transfers/latest``,
``GET /agent/transfers?call_sid=CA...`` (JSON list), ``GET /agent/calls/<CallSid>`` (the call and
its transcript), ``GET /agent/callbacks`` (``?due=1``) and ``/agent/callbacks/view`` (callbacks for supervisors).

These pages show callers' words and numbers, so they are guarded. With ``VOICEBOT_AGENT_PASSWORD``
set, every request needs HTTP Basic credentials with that password (set it whenever a proxy on
this host forwards outside traffic); without it, only requests from this machine are answered.
Password guessing is throttled per client address (``security.passwords.LoginThrottle``): 5 wrong
passwords within 15 minutes lock the address out for 15 minutes (429 with ``Retry-After``).
Role-based admin login will replace this guard."""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, jsonify, render_template, request

from voicebot.storage import calls
from voicebot.web.state import current_state

bp = Blueprint("agent", __name__, url_prefix="/agent")


@bp.before_request
def require_agent_access():
    """The configured password over HTTP Basic auth, or (none configured) a loopback client."""
    state = current_state()
    password = state.settings.agent_password
    if not password:
        if _is_loopback(request.remote_addr):
            return None
    else:
        address = request.remote_addr or "-"
        wait = state.login_throttle.retry_after(address)
        if wait > 0:
            return Response(f"too many wrong passwords from this address: try again in {wait:.0f} s\n", 429,
                            {"Retry-After": str(int(wait) + 1)}, mimetype="text/plain")
        auth = request.authorization
        if auth is not None and hmac.compare_digest((auth.password or "").encode(), password.encode()):
            state.login_throttle.record_success(address)
            return None
        if auth is not None:
            state.login_throttle.record_failure(address)
    return Response("agent pages need a login (set VOICEBOT_AGENT_PASSWORD and use HTTP Basic auth)\n", 401,
                    {"WWW-Authenticate": 'Basic realm="voicebot agent"'})


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _load(transfer_id: int) -> dict:
    record = calls.load_transfer(current_state().db, transfer_id)
    if record is None:
        abort(404, description=f"no transfer {transfer_id}")
    return record


@bp.get("/transfers/<int:transfer_id>")
def transfer_json(transfer_id: int):
    return jsonify(_load(transfer_id))


@bp.get("/transfers/<int:transfer_id>/view")
def transfer_html(transfer_id: int):
    return render_template("agent_transfer.html", transfer=_load(transfer_id))


@bp.get("/transfers/latest")
def latest_transfer():
    """The newest transfer (what an agent opens the moment a call arrives); 404 when there is none."""
    from sqlalchemy import func, select

    from voicebot.storage.tables import TransferRecord

    with current_state().db.session() as s:
        newest = s.scalar(select(func.max(TransferRecord.id)))
    if newest is None:
        abort(404, description="no transfers yet")
    return jsonify(_load(newest))


@bp.get("/transfers")
def transfers_for_call():
    call = calls.load_call(current_state().db, request.args.get("call_sid", ""))
    return jsonify([_load(i) for i in call["transfer_ids"]] if call else [])


@bp.get("/calls/<call_sid>")
def call_json(call_sid: str):
    """One call: status, outcome, transcript (with intents and latencies) and its transfers."""
    call = calls.load_call(current_state().db, call_sid)
    if call is None:
        abort(404, description=f"no call {call_sid}")
    body = {k: call[k] for k in ("call_sid", "caller", "status", "outcome", "duration_s")}
    body["transcript"] = [{k: t[k] for k in ("speaker", "text", "intent", "confidence", "frustration", "latency_ms", "details")}
                          for t in call["transcript"]]
    body["transfers"] = [_load(i) for i in call["transfer_ids"]]
    return jsonify(body)


@bp.get("/callbacks")
def callbacks_json():
    """Pending callbacks for supervisors, soonest first (``?due=1``: only those due now)."""
    from datetime import datetime, timezone

    from voicebot.storage.callbacks import list_callbacks

    due = datetime.now(timezone.utc) if request.args.get("due") == "1" else None
    return jsonify(list_callbacks(current_state().db, due_before=due))


@bp.get("/callbacks/view")
def callbacks_html():
    from voicebot.storage.callbacks import list_callbacks

    return render_template("agent_callbacks.html", callbacks=list_callbacks(current_state().db))
