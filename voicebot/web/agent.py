"""What a human agent opens when a call is handed over: the transfer record with its context
and the call's transcript. ``GET /agent/transfers/<id>`` (JSON), ``.../view`` (plain HTML),
``GET /agent/transfers?call_sid=CA...`` (JSON list), ``GET /agent/calls/<CallSid>`` (the call and
its transcript).

These pages show callers' words and numbers, so they are guarded. With ``VOICEBOT_AGENT_PASSWORD``
set, every request needs HTTP Basic credentials with that password (set it whenever a proxy on
this host forwards outside traffic); without it, only requests from this machine are answered.
Role-based admin login will replace this guard."""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, jsonify, render_template, request
from sqlalchemy import select

from voicebot.storage.tables import Call, TransferRecord, Turn
from voicebot.web.state import current_state

bp = Blueprint("agent", __name__, url_prefix="/agent")


@bp.before_request
def require_agent_access():
    """The configured password over HTTP Basic auth, or (none configured) a loopback client."""
    password = current_state().settings.agent_password
    if not password:
        if _is_loopback(request.remote_addr):
            return None
    else:
        auth = request.authorization
        if auth is not None and hmac.compare_digest((auth.password or "").encode(), password.encode()):
            return None
    return Response("agent pages need a login (set VOICEBOT_AGENT_PASSWORD and use HTTP Basic auth)\n", 401,
                    {"WWW-Authenticate": 'Basic realm="voicebot agent"'})


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def transfer_as_dict(record: TransferRecord, call: Call, turns: list[Turn]) -> dict:
    return {
        "id": record.id,
        "call_sid": call.call_sid,
        "caller": call.caller,
        "destination": record.destination,
        "reason": record.reason,
        "context": record.context or {},
        "created_at": record.created_at.isoformat() if record.created_at else None,
        "transcript": [{"speaker": t.speaker, "text": t.text, "intent": t.intent} for t in turns],
    }


def _load(transfer_id: int) -> dict:
    with current_state().db.session() as s:
        record = s.get(TransferRecord, transfer_id)
        if record is None:
            abort(404, description=f"no transfer {transfer_id}")
        call = s.get(Call, record.call_id)
        turns = list(s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.id)))
        return transfer_as_dict(record, call, turns)


@bp.get("/transfers/<int:transfer_id>")
def transfer_json(transfer_id: int):
    return jsonify(_load(transfer_id))


@bp.get("/transfers/<int:transfer_id>/view")
def transfer_html(transfer_id: int):
    return render_template("agent_transfer.html", transfer=_load(transfer_id))


@bp.get("/transfers")
def transfers_for_call():
    call_sid = request.args.get("call_sid", "")
    with current_state().db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is None:
            return jsonify([])
        ids = list(s.scalars(select(TransferRecord.id).where(TransferRecord.call_id == call.id).order_by(TransferRecord.id)))
    return jsonify([_load(i) for i in ids])


@bp.get("/calls/<call_sid>")
def call_json(call_sid: str):
    """One call: status, outcome, transcript (with intents and latencies) and its transfers."""
    with current_state().db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is None:
            abort(404, description=f"no call {call_sid}")
        turns = list(s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.id)))
        ids = list(s.scalars(select(TransferRecord.id).where(TransferRecord.call_id == call.id).order_by(TransferRecord.id)))
        body = {
            "call_sid": call.call_sid, "caller": call.caller, "status": call.status, "outcome": call.outcome,
            "duration_s": call.duration_s,
            "transcript": [{"speaker": t.speaker, "text": t.text, "intent": t.intent, "confidence": t.confidence,
                            "frustration": t.frustration, "latency_ms": t.latency_ms, "details": t.details or {}}
                           for t in turns],
        }
    body["transfers"] = [_load(i) for i in ids]
    return jsonify(body)
