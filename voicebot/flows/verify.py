"""The ``verify`` node, expanded by the loader into the nodes the engine already runs (pure).

A verify node ``V`` becomes:
``V`` (set ``V_tries: 0``) -> ``V_ask`` (a *sensitive* ask: the answer is never stored, logged,
said back or given to an agent) -> ``V_check`` (lookup ``verify_identity`` with the profile's
``id``, the factor and the answer; the runner compares, the engine never sees the stored value)
-> ``V_decide`` (branch: verified -> ``next``; tries left and not locked -> ``V_retry`` (count) ->
``V_again`` (say ``retry_text``) -> ``V_ask``; else ``on_fail``). A failing lookup goes to
``on_fail`` too, so an unreachable database never lets a caller through.
"""
from __future__ import annotations

import re
from typing import Any

from voicebot.flows import schema as s

DEFAULT_SLOT = {"postcode": "text", "date_of_birth": "date", "last_order": "order_number"}
SUFFIXES = ("_ask", "_check", "_decide", "_retry", "_again")


def expand_verify(nodes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``nodes`` (raw YAML mappings, each already valid) with every verify node replaced by the
    nodes above; and, for line numbers, each generated node's name -> its verify node's name.
    A generated name that an author's node already uses is an error (``ValueError``)."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, raw in nodes.items():
        if not (isinstance(raw, dict) and raw.get("type") == "verify"):
            out[name] = raw
            continue
        generated = _expand(name, s.VerifyNode.model_validate(raw))
        clash = sorted(set(generated) - {name} & set(nodes))
        if clash:
            raise ValueError(f"verify node '{name}' needs the node name '{clash[0]}' for itself; rename that node")
        out.update(generated)
        origin.update({generated_name: name for generated_name in generated})
    return out, origin


def _expand(name: str, node: s.VerifyNode) -> dict[str, dict]:
    var = re.sub(r"\W", "_", name)
    tries, answer, result = f"{var}_tries", f"{var}_answer", node.save_as
    ask, check, decide, retry, again = (name + suffix for suffix in SUFFIXES)
    asking = {"type": "ask", "prompt": node.prompt, "slot": answer, "slot_type": node.slot_type or DEFAULT_SLOT[node.factor],
              "sensitive": True, "timeout_s": node.timeout_s, "grammar": "open", "retries": 1, "next": check,
              "on_fail": node.on_fail}
    if node.reprompt:
        asking["reprompt"] = node.reprompt
    return {
        name: {"type": "set", "values": {tries: 0}, "next": ask},
        ask: asking,
        check: {"type": "lookup", "source": "verify_identity", "save_as": result, "filler": "", "error_text": "",
                "params": {"customer": f"{{{node.customer}.id}}", "factor": node.factor, "answer": f"{{{answer}}}"},
                "next": decide, "on_error": node.on_fail},
        decide: {"type": "branch", "default": node.on_fail, "cases": [
            {"when": f"{result} and {result}.ok", "goto": node.next},
            {"when": f"{result} and not {result}.locked and {tries} + 1 < {node.attempts}", "goto": retry}]},
        retry: {"type": "set", "values": {tries: f"{tries} + 1"}, "next": again},
        again: {"type": "say", "text": node.retry_text, "next": ask},
    }
