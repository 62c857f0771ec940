"""The transfer context: what an agent needs to pick up a call without asking again.

Pure: no database, no I/O. ``build_context`` is the one place the context is assembled, from
the flow's facts (the engine's ``Transfer.context``: intent, slots, node, emotion,
frustration), the conversation's lines (speaker, text, intent, time: every channel keeps them
the same way), the last understanding and the customer record. ``Handoff`` is what a channel
receives to carry the transfer out; ``sip_parameters`` is the short subset that fits in SIP
headers or ``<Parameter>`` of a ``<Dial>``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from voicebot.actions import Transfer

SUMMARY_TURNS = 6  # the last lines of the conversation shown to the agent at a glance
SIP_VALUE_MAX = 64  # keep header values short; the full context is in the record


@dataclass(frozen=True)
class TranscriptLine:
    """One line of a conversation: who (``caller``, ``bot``, ``system``), what, what it meant, when (ISO 8601)."""

    speaker: str
    text: str
    intent: str | None = None
    at: str | None = None


@dataclass(frozen=True)
class Handoff:
    """A transfer ready for a channel: where, why, the agent's context, and the id of the stored
    record the agent opens (None when it could not be stored: the caller still reaches a human)."""

    destination: str
    reason: str
    context: dict[str, Any] = field(default_factory=dict)
    record_id: int | None = None


def build_context(
    transfer: Transfer,
    *,
    call_sid: str,
    caller: str = "",
    channel: str = "voice",
    transcript: Sequence[TranscriptLine] = (),
    understanding: Any = None,
    customer: dict[str, Any] | None = None,
    frustration_trace: Sequence[float] = (),
) -> dict[str, Any]:
    """The agent's view of the call as a JSON-safe dict. ``transcript`` is oldest first;
    ``frustration_trace`` is the caller's frustration after each of their turns (the agent sees
    whether the call got worse or better, and the peak).

    The flow's facts win over the last understanding (the flow knows the topic of the call);
    the transcript is always the conversation's own, line by line."""
    facts = dict(transfer.context or {})
    u = understanding
    intent = facts.get("intent") or getattr(u, "intent", None)
    lines = [line for line in transcript if line.text]
    said = [line.text for line in lines if line.speaker == "caller"]
    context: dict[str, Any] = {
        "call_sid": call_sid,
        "caller": facts.get("caller") or caller,
        "channel": channel,
        "reason": transfer.reason,
        "destination": transfer.destination,
        "intent": intent,
        "intent_confidence": round(float(getattr(u, "confidence", 0.0) or 0.0), 3) if u is not None else None,
        "slots": _json_safe(facts.get("slots") or {}),
        "node": facts.get("node"),
        "emotion": facts.get("emotion") or getattr(u, "emotion", None) or "neutral",
        "frustration": round(float(_first(facts.get("frustration"), getattr(u, "frustration", None), 0.0)), 3),
        "summary": f"Transferred ({transfer.reason}) about {intent or 'unknown topic'}"
                   + (f"; last said: \"{said[-1]}\"." if said else "."),
        "transcript_summary": " | ".join(f"{line.speaker}: {line.text}" for line in lines[-SUMMARY_TURNS:]),
        "transcript": [{"speaker": line.speaker, "text": line.text, "intent": line.intent, "at": line.at} for line in transcript],
        "customer": _json_safe(customer or {}),
        "frustration_over_call": [round(float(f), 3) for f in frustration_trace],
        "frustration_peak": round(max((float(f) for f in frustration_trace), default=0.0), 3),
    }
    extra = {k: v for k, v in facts.items() if k not in context}
    context.update(_json_safe(extra))
    return context


def spoken_summary(context: dict[str, Any]) -> str:
    """What the agent hears before the caller is joined (a warm transfer's whisper): who, why,
    what the bot already knows, how upset the caller is. Short: the caller is waiting."""
    customer = context.get("customer") or {}
    parts = []
    if customer.get("found") and customer.get("name"):
        segments = ", ".join(str(s).replace("_", " ") for s in customer.get("segments") or [])
        tier = customer.get("tier", "standard")
        parts.append(f"Caller {customer['name']}, {tier} customer" + (f", {segments}" if segments else "") + ".")
    else:
        parts.append("Caller not identified.")
    topic = str(context.get("intent") or "unknown topic").replace("_", " ")
    parts.append(f"Reason: {str(context.get('reason') or 'transfer').replace('_', ' ')}, about {topic}.")
    slots = {k: v for k, v in (context.get("slots") or {}).items() if v not in (None, "")}
    if slots:
        parts.append("Known: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in list(slots.items())[:3]) + ".")
    peak = float(context.get("frustration_peak") or context.get("frustration") or 0.0)
    parts.append("The caller is upset." if peak >= 0.6 else "The caller is calm." if peak < 0.3 else "The caller is impatient.")
    return " ".join(parts)


def sip_parameters(context: dict[str, Any]) -> dict[str, str]:
    """Short string parameters for the ``<Dial>`` target (SIP ``X-`` headers / ``<Parameter>``)."""
    keys = ("reason", "intent", "frustration", "emotion", "call_sid")
    params = {key: str(context.get(key)) for key in keys if context.get(key) not in (None, "")}
    customer = context.get("customer") or {}
    if customer.get("name"):
        params["customer"] = str(customer["name"])
    return {key: value[:SIP_VALUE_MAX] for key, value in params.items()}


def _first(*values):
    return next(v for v in values if v is not None)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
