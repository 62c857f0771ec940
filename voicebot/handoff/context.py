"""The transfer context: what an agent needs to pick up a call without asking again.

``build_context`` turns what the session knows (the flow's ``Transfer``, the last
understanding, slots, the transcript, frustration, the customer) into a plain JSON-safe dict;
``save_transfer`` stores it as a ``TransferRecord`` the agent can open; ``sip_parameters``
gives the short subset that fits in SIP headers / ``<Parameter>`` of a ``<Dial>``.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from voicebot.actions import Transfer
from voicebot.errors import StorageError
from voicebot.storage.db import Database
from voicebot.storage.tables import Call, Customer, TransferRecord

SUMMARY_TURNS = 6  # the last lines of the conversation shown to the agent
SIP_VALUE_MAX = 64  # keep header values short; the full context is in the record


def build_context(
    transfer: Transfer,
    *,
    call_sid: str,
    caller: str = "",
    transcript: list[tuple[str, str]] = (),
    understanding: Any = None,
    slots: dict[str, Any] | None = None,
    frustration: float = 0.0,
    emotion: str = "neutral",
    customer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The agent's view of the call. ``transcript`` is ``[(speaker, text), ...]`` oldest first.

    Values the flow put in ``transfer.context`` win over what the session derived.
    """
    lines = [f"{speaker}: {text}" for speaker, text in transcript if text]
    context: dict[str, Any] = {
        "call_sid": call_sid,
        "caller": caller,
        "reason": transfer.reason,
        "destination": transfer.destination,
        "intent": getattr(understanding, "intent", None),
        "intent_confidence": round(float(getattr(understanding, "confidence", 0.0) or 0.0), 3) if understanding else None,
        "slots": _json_safe(slots or {}),
        "emotion": emotion,
        "frustration": round(float(frustration), 3),
        "transcript_summary": " | ".join(lines[-SUMMARY_TURNS:]),
        "transcript": [{"speaker": s, "text": t} for s, t in transcript],
        "customer": _json_safe(customer or {}),
    }
    context.update(_json_safe(dict(transfer.context)))
    return context


def save_transfer(db: Database, call_sid: str, transfer: Transfer, context: dict[str, Any]) -> str:
    """Store the context as a ``TransferRecord`` of the call ``call_sid``; return its id as text."""
    with db.session() as session:
        call = session.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is None:
            raise StorageError(f"cannot record the transfer: no call {call_sid} in the database")
        record = TransferRecord(call_id=call.id, destination=transfer.destination, reason=transfer.reason, context=context)
        session.add(record)
        call.outcome = "transferred"
        session.flush()
        return str(record.id)


def load_transfer(db: Database, record_id: str | int) -> dict[str, Any] | None:
    """The stored context of a transfer record, or None."""
    with db.session() as session:
        record = session.get(TransferRecord, int(record_id))
        return dict(record.context) if record else None


def find_customer(db: Database, phone: str) -> dict[str, Any] | None:
    """The customer with this phone number as a small dict, or None."""
    if not phone:
        return None
    with db.session() as session:
        customer = session.scalar(select(Customer).where(Customer.phone == phone))
        if customer is None:
            return None
        return {"id": customer.id, "name": customer.name, "phone": customer.phone, "tier": customer.tier, "email": customer.email}


def sip_parameters(context: dict[str, Any]) -> dict[str, str]:
    """Short string parameters for the ``<Dial>`` target (SIP ``X-`` headers / ``<Parameter>``)."""
    keys = ("reason", "intent", "frustration", "emotion", "call_sid")
    params = {key: str(context.get(key)) for key in keys if context.get(key) not in (None, "")}
    customer = context.get("customer") or {}
    if customer.get("name"):
        params["customer"] = str(customer["name"])
    return {key: value[:SIP_VALUE_MAX] for key, value in params.items()}


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
