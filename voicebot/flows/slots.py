"""Turn one caller turn (keys or understood speech) into a slot value of a given type.

The understanding layer's entities come first (``order_number``, ``digits``, ``yesno``,
``money``, ``date``); plain-text fallbacks cover the common spoken forms ("four one seven two",
"yeah", "twenty dollars") so a slot still fills when NLU is off. Pure functions.
"""
from __future__ import annotations

import re
from typing import Any, get_args

from voicebot.events import DtmfPressed, Utterance
from voicebot.flows.schema import ValueType
from voicebot.vocabulary import yes_or_no

DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3",
    "four": "4", "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "ate": "8", "nine": "9",
}
AMBIGUOUS = {"to", "too", "for", "o", "oh", "ate"}  # also ordinary words
ENTITY_KINDS = {
    "digits": ("digits", "order_number"),
    "order_number": ("order_number", "digits"),
    "yesno": ("yesno",),
    "amount": ("money", "number"),
    "date": ("date",),
}


def spoken_digits(text: str) -> str:
    """Digits said as words or numerals ("four 1 seven two" -> "4172"); '' if none."""
    tokens = re.findall(r"[a-z]+|\d+", text.lower())
    is_digit = [t.isdigit() or (t in DIGIT_WORDS and t not in AMBIGUOUS) for t in tokens]
    out = []
    for i, token in enumerate(tokens):
        if is_digit[i]:
            out.append(token if token.isdigit() else DIGIT_WORDS[token])
        elif token in AMBIGUOUS:  # "for 1 7 2": a homophone counts only next to a real digit
            if (i > 0 and is_digit[i - 1]) or (i + 1 < len(tokens) and is_digit[i + 1]):
                out.append(DIGIT_WORDS[token])
    return "".join(out)


def extract(slot_type: str, event: DtmfPressed | Utterance) -> Any:
    """The value of ``slot_type`` in this turn, or None if the turn does not contain one."""
    if isinstance(event, DtmfPressed):
        keys = event.digits.rstrip("#")
        if slot_type in ("digits", "order_number"):
            return keys if keys.isdigit() else None
        if slot_type == "yesno":
            return {"1": True, "2": False}.get(keys)
        if slot_type == "amount":
            return float(keys) if keys.isdigit() else None
        return None
    understanding = event.understanding
    text = event.text or ""
    if slot_type in ("digits", "order_number"):
        # NLU entities and the homophone-aware word parse can disagree ("for 1 7 2"): a digit
        # slot takes the longer reading, since recognisers drop digits far more than they add.
        found = [re.sub(r"\D", "", str(e.value)) for e in (understanding.entities if understanding else ())
                 if e.kind in ENTITY_KINDS[slot_type]]
        return max(found + [spoken_digits(text)], key=len) or None
    for kind in ENTITY_KINDS.get(slot_type, ()):
        entity = understanding.entity(kind) if understanding is not None else None
        if entity is not None and entity.value not in (None, ""):
            return _plain(entity.value, slot_type)
    if slot_type == "yesno":
        return yes_or_no(text)
    if slot_type == "amount":
        match = re.search(r"\d+(?:\.\d+)?", text.replace(",", ""))
        return float(match.group()) if match else None
    return text.strip() or None


def value_in_words(slot_type: str, event: DtmfPressed | Utterance) -> Any:
    """The value of ``slot_type`` that a spoken turn's words hold ("where is my order 4172" ->
    "4172"), or None. Keys never count. Unlike ``extract`` there is no whole-text fallback: a
    date needs a recognised date, and yes/no or free text never count as a value."""
    if not isinstance(event, Utterance) or slot_type not in get_args(ValueType):
        return None
    if slot_type == "date" and (event.understanding is None or event.understanding.entity("date") is None):
        return None
    return extract(slot_type, event)


def score(event: DtmfPressed | Utterance, scale: int) -> int | None:
    """A survey score 1..scale from a key or a spoken number."""
    if isinstance(event, DtmfPressed):
        keys = event.digits.rstrip("#")
    else:
        keys = extract("digits", event) or ""
    if len(keys) == 1 and keys.isdigit() and 1 <= int(keys) <= scale:
        return int(keys)
    return None


def _plain(value: Any, slot_type: str) -> Any:
    """A JSON-safe slot value: money entities give their amount, dates their ISO text."""
    if slot_type == "amount" and isinstance(value, dict):
        value = value.get("amount")
    if slot_type == "amount" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def confirms(node, event) -> bool:
    """Whether the value ``event`` gave is confirmed: always with ``confirm`` alone; with
    ``confirm_below``, only a spoken value the recogniser was less sure of."""
    if not node.confirm:
        return False
    if node.confirm_below is None:
        return True
    return isinstance(event, Utterance) and event.confidence < node.confirm_below


def valid_value(node, value) -> bool:
    if value is None:
        return False
    text = str(value)
    if node.min_length is not None and len(text) < node.min_length:
        return False
    if node.max_length is not None and len(text) > node.max_length:
        return False
    if node.pattern:
        return re.fullmatch(node.pattern, text) is not None
    return True
