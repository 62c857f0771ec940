"""What a listening node asks the channel to collect: grammar, timeouts and keypad input."""
from __future__ import annotations

from voicebot.actions import Listen
from voicebot.flows import schema as s


def listen_for(flow, node, confirming: bool = False) -> Listen:
    """What input the channel should collect for ``node`` (grammar, timeouts, keys)."""
    wait = node.timeout_s
    if confirming or (isinstance(node, s.AskNode) and node.slot_type == "yesno" and node.grammar == "auto"):
        return Listen(grammar="yesno", max_digits=1, start_timeout_s=wait)
    if isinstance(node, s.AskNode) and node.slot_type in ("digits", "order_number"):
        grammar = "digits" if node.grammar == "auto" else None
        return Listen(grammar=grammar, max_digits=node.max_length or 12, end_silence_s=1.0, start_timeout_s=wait)
    if isinstance(node, s.AskNode):
        return Listen(grammar=None, max_digits=1 if node.slot_type != "amount" else 8, start_timeout_s=wait)
    if isinstance(node, s.SurveyNode):
        return Listen(grammar="digits", max_digits=1, start_timeout_s=wait)
    phrases = [p for o in node.options for p in o.phrases]
    if phrases:  # a phrase grammar must still let callers ask for an agent or say goodbye
        intents = {i for o in node.options if o.intent for i in [o.intent]}
        for handler in (flow.model.handlers.agent, flow.model.handlers.goodbye):
            intents.update(handler.intents if handler else ())
        phrases += [e for i in sorted(intents) for e in flow.model.intents.get(i, [])]
    return Listen(grammar=tuple(dict.fromkeys(p.lower() for p in phrases)) or None, max_digits=1, start_timeout_s=wait)
