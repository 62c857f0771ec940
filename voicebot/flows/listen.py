"""What a listening node asks the channel to collect: grammar, timeouts and keypad input.

End-of-turn silence fits the question: short where the answer is short (yes/no, menus), longer
for digit strings (callers pause inside a number). ``complete_when`` tells the channel when an
early recognition is already the whole answer, so it may end the turn before that silence.
"""
from __future__ import annotations

from voicebot.actions import Listen
from voicebot.flows import schema as s

SHORT_ANSWER_SILENCE_S = 0.5  # yes/no, menu phrases, survey scores
OPEN_ANSWER_SILENCE_S = 0.7  # free answers: callers think mid-sentence
DIGITS_SILENCE_S = 1.0  # callers pause inside a number; the last expected digit ends it sooner


def listen_for(flow, node, confirming: bool = False) -> Listen:
    """What input the channel should collect for ``node`` (grammar, timeouts, keys)."""
    wait = node.timeout_s
    if confirming or isinstance(node, s.ConsentNode) or (isinstance(node, s.AskNode) and node.slot_type == "yesno"
                                                          and node.grammar == "auto"):
        return Listen(grammar="yesno", max_digits=1, start_timeout_s=wait, end_silence_s=SHORT_ANSWER_SILENCE_S, complete_when="yesno")
    if isinstance(node, s.AskNode) and node.slot_type in ("digits", "order_number"):
        grammar = "digits" if node.grammar == "auto" else None
        # complete only at the node's maximum length: a shorter number may still be going on
        return Listen(grammar=grammar, max_digits=node.max_length or 12, end_silence_s=DIGITS_SILENCE_S, start_timeout_s=wait,
                      complete_when="digits" if node.max_length else None)
    if isinstance(node, s.AskNode):
        complete = "yesno" if node.slot_type == "yesno" else None
        return Listen(grammar=None, max_digits=1 if node.slot_type != "amount" else 8, start_timeout_s=wait,
                      end_silence_s=SHORT_ANSWER_SILENCE_S if complete else OPEN_ANSWER_SILENCE_S, complete_when=complete)
    if isinstance(node, s.SurveyNode):
        return Listen(grammar="digits", max_digits=1, start_timeout_s=wait, end_silence_s=SHORT_ANSWER_SILENCE_S, complete_when="digits")
    phrases = [p for o in node.options for p in o.phrases]
    if phrases:  # a phrase grammar must still let callers ask for an agent or say goodbye
        intents = {i for o in node.options if o.intent for i in [o.intent]}
        for handler in (flow.model.handlers.agent, flow.model.handlers.goodbye):
            intents.update(handler.intents if handler else ())
        phrases += [e for i in sorted(intents) for e in flow.model.intents.get(i, [])]
    grammar = tuple(dict.fromkeys(p.lower() for p in phrases)) or None
    return Listen(grammar=grammar, max_digits=1, start_timeout_s=wait, end_silence_s=SHORT_ANSWER_SILENCE_S,
                  complete_when="phrase" if grammar else None)
