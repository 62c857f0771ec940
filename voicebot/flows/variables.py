"""What a call's variables start as, what of them travels with a transfer, and which of them
are sensitive (pure helpers of the engine and of the runner that records the conversation).

A slot filled by an ask node with ``sensitive: true`` (a card number, a PIN) is used by the
flow (lookups, conditions) but never leaves it: it is not in the transfer's facts, and the
turn that answered it is shown as ``[sensitive]`` in the engine's transcript; the runner stores
nothing of that turn (``is_sensitive_turn``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from voicebot.events import CallStarted
from voicebot.flows import schema as s
from voicebot.flows.validate import BUILTIN_VARIABLES

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SENSITIVE_TEXT = "[sensitive]"


def builtin_variables(model: s.FlowModel, event: CallStarted) -> dict[str, Any]:
    """The variables every call starts with (see ``validate.BUILTIN_VARIABLES``). ``params``
    may carry ``local_time`` (ISO 8601), ``consent`` (the caller's remembered decision) and
    ``last_contact`` (their newest chat, SMS, email or WeChat conversation: ``found``, ``channel``,
    ``medium``, ``topic``, ``summary``), ``resumed`` (the reason a handed-over call came back to the bot)."""
    variables = {name: None for name in BUILTIN_VARIABLES}
    variables.update(caller=event.caller, channel=event.channel, call_id=event.call_id, frustration=0.0, emotion="neutral")
    recent = event.params.get("last_contact")  # the customer's last text conversation (channels)
    variables["last_contact"] = recent if isinstance(recent, dict) else None
    consent = event.params.get("consent")
    variables["consent"] = consent if isinstance(consent, bool) else None
    resumed = event.params.get("resumed")
    variables["resumed"] = str(resumed) if resumed else None  # the call came back to the bot (a failed transfer)
    local = event.params.get("local_time")
    if isinstance(local, str):
        try:
            local = datetime.fromisoformat(local)
        except ValueError:
            local = None
    if isinstance(local, datetime):
        hours = model.business_hours
        now, day = local.strftime("%H:%M"), WEEKDAYS[local.weekday()]
        variables.update(time=now, weekday=day, open_now=day in hours.days and hours.open <= now < hours.close)
    return variables


def sensitive_slots(model: s.FlowModel) -> set[str]:
    """Slots of ask nodes marked ``sensitive``."""
    return {node.slot for node in model.nodes.values() if isinstance(node, s.AskNode) and node.sensitive}


def is_sensitive_turn(model: s.FlowModel, node_name: str | None, waiting: str | None) -> bool:
    """True when the caller's next turn answers a sensitive ask node (its value or its confirmation)."""
    node = model.nodes.get(node_name) if node_name else None
    return isinstance(node, s.AskNode) and node.sensitive and waiting in ("input", "confirm")


def flow_facts(model: s.FlowModel, variables: dict[str, Any], topic: str | None, node: str | None) -> dict[str, Any]:
    """What only the flow knows about a call being transferred (``voicebot.handoff.context``
    builds the agent's whole context from these and the conversation's own lines)."""
    hidden = set(BUILTIN_VARIABLES) | sensitive_slots(model)
    return {"caller": variables.get("caller"), "intent": topic or variables.get("intent"), "node": node,
            "slots": {k: val for k, val in variables.items() if k not in hidden},
            "emotion": variables.get("emotion"), "frustration": variables.get("frustration")}
