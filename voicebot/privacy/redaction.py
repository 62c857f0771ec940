"""PII redaction: find personal data in an utterance and replace each span with ``[TYPE]``.

``redact(text)`` promises:
- every entity is ``{type, start, end}`` over the *original* text (``text[start:end]`` is what
  was removed), sorted, never overlapping;
- ``Redaction.text`` is the original with each span replaced by ``[TYPE]`` and nothing else
  changed;
- it never raises for any string and runs in time linear-ish in its length (no backtracking
  blow-up: the patterns are bounded; fuzzed in tests/test_fuzz_redaction.py).

Types: CARD_NUMBER, SSN, NATIONAL_ID (Canadian SIN, Indian Aadhaar, UK National Insurance),
ROUTING_NUMBER, BANK_ACCOUNT (incl. IBAN), PHONE, EMAIL, DATE_OF_BIRTH, ADDRESS. Spoken forms
("four one one one ...", "john dot smith at example dot com") are handled by first writing
spoken numbers as digits (``voicebot.privacy.spoken``); what counts as what is documented in
``numbers`` and ``textual`` and measured in docs/privacy.md.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from voicebot.privacy.numbers import Found, find_numbers
from voicebot.privacy.spoken import normalize
from voicebot.privacy.textual import find_text_entities

TYPES = ("CARD_NUMBER", "SSN", "NATIONAL_ID", "ROUTING_NUMBER", "BANK_ACCOUNT", "PHONE", "EMAIL",
         "DATE_OF_BIRTH", "ADDRESS")
# when two findings overlap, the longer wins, then the earlier type here
PRIORITY = {t: i for i, t in enumerate(("EMAIL", "CARD_NUMBER", "SSN", "NATIONAL_ID", "ROUTING_NUMBER",
                                        "BANK_ACCOUNT", "DATE_OF_BIRTH", "PHONE", "ADDRESS"))}
MAX_CHARS = 20_000  # longer input is redacted in slices of this size


@dataclass(frozen=True)
class Entity:
    """One redacted span of the original text."""

    type: str
    start: int
    end: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Redaction:
    text: str
    entities: tuple[Entity, ...]

    def as_dict(self) -> dict:
        """The public JSON shape: ``{"text": ..., "entities": [{"type", "start", "end"}, ...]}``."""
        return {"text": self.text, "entities": [e.as_dict() for e in self.entities]}


def find_entities(text: str) -> list[Entity]:
    """The PII entities of ``text``, over original offsets, sorted and non-overlapping."""
    entities: list[Entity] = []
    for offset in range(0, len(text), MAX_CHARS):
        entities += [Entity(e.type, e.start + offset, e.end + offset) for e in _find(text[offset:offset + MAX_CHARS])]
    return entities


def redact(text: str) -> Redaction:
    """``text`` with every PII span replaced by ``[TYPE]``, and the entities found."""
    entities = find_entities(text)
    pieces, cursor = [], 0
    for entity in entities:
        pieces += [text[cursor:entity.start], f"[{entity.type}]"]
        cursor = entity.end
    pieces.append(text[cursor:])
    return Redaction("".join(pieces), tuple(entities))


def redact_text(text: str) -> str:
    """Just the redacted text (for logs and storage)."""
    return redact(text).text


def _find(text: str) -> list[Entity]:
    view = normalize(text)
    found: list[Found] = find_numbers(view) + find_text_entities(view)
    found.sort(key=lambda f: (-(f.end - f.start), PRIORITY[f.type], f.start))
    kept: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for f in found:
        start, end = view.original_span(f.start, f.end)
        start, end = _trim(text, start, end)
        if start >= end or any(start < b and a < end for a, b in taken):
            continue
        taken.append((start, end))
        kept.append(Entity(f.type, start, end))
    return sorted(kept, key=lambda e: e.start)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding spaces and trailing sentence punctuation from a span."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:!?"):
        end -= 1
    if end > start and text[end - 1] == "." and not text[start:end - 1].lower().endswith(("st", "ave", "rd", "dr", "ln", "blvd", "ct")):
        end -= 1
    return start, end
