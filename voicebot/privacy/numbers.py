"""Digit-string PII: card numbers, SSNs and other national ids, routing and bank account
numbers, phone numbers. Works on a ``View`` (spoken numbers already written as digits).

A *chain* is a sequence of digit groups joined by small separators ("4111 1111-1111",
"555, 123, 4567", "5 5 5 1 2 ..." as recognisers write read-out digits). Every contiguous part
of a chain is a candidate, longest first. What a candidate is depends on the nearest keyword
before the chain ("card", "social", "routing", "account", "phone", ... or a look-alike such as
"order" or "tracking"), else on its shape and checksum:

- CARD_NUMBER: digits passing Luhn with a length the network of their first digit issues
  (Visa 13/16/19, Mastercard 16, Amex 15, ...); after a card keyword, 12-19 digits whatever the
  checksum (a misheard digit must not leak the rest); after a look-alike keyword ("tracking",
  "package") only when grouped like a card (4-4-4-4, 4-6-5).
- SSN: 3-2-4 layout with a valid area, or 9 digits after an SSN keyword.
- NATIONAL_ID: Canadian SIN (3-3-3 passing Luhn), Indian Aadhaar (12 digits passing Verhoeff),
  or 8-12 digits after a national-id keyword ("social insurance", "national id", "aadhaar", ...);
  UK National Insurance numbers (letters and digits) are in ``textual``.
- ROUTING_NUMBER: 9 digits after a routing keyword, or passing the ABA checksum with a Federal
  Reserve prefix.
- BANK_ACCOUNT: 5-17 digits after an account keyword (IBANs are in ``textual``).
- PHONE: 10 digits (NANP), 11 starting with 1, "+"/"plus" and 8-15 digits; 7 digits after a phone keyword.
Money ("$49.99", "20 dollars") and times ("3 30 pm") are never candidates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import luhn
from stdnum.ca import sin as ca_sin
from stdnum.in_ import aadhaar
from stdnum.us import rtn, ssn

from voicebot.privacy.spoken import View

KEYWORDS = {  # order matters inside one alternation: longer phrases first
    "natid": r"social insurance|national insurance|national id|national identity|identity number|id number|"
             r"ni number|n\.? ?i\.? number|s\.? ?i\.? ?n\.?(?= (?:number|is|#))|sin|aadhaa?r|uidai|nino",
    "ssn": r"social security|socials?|ssn|s\.? ?s\.? ?n\.?|security number|tax ?payer id|itin",
    "card": r"cards?|visa|master ?card|amex|american express|discover|credit|debit|cc|pan\b|card ?holder",
    "routing": r"routing|aba|transit|bank code",
    "account": r"accounts?|acct|a/c|checking|savings|chequing|iban|bank",
    "phone": r"phone|cell|mobile|telephone|landline|fax|reach me|call me|text me|call back|callback|call|text|"
             r"contact|my number|area code|dial|extension",
    "dob": r"born|birth|birthday|birthdate|birth date|bday|b-day|dob|d\.o\.b\.?",
    "lookalike": r"orders?|tracking|confirmation|reference|ref|invoice|ticket|case|claim|item|sku|model|"
                 r"serial|part|flight|room|policy|booking|reservation|pin|zip|postal|code|quantity|qty|"
                 r"price|total|order number|receipt|transaction|membership|member|loyalty|voucher|coupon|"
                 r"promo|gift|version|unit|apartment|suite|building|gate|seat|bus|route|page|chapter|package|parcel|"
                 r"shipment|shipping",
}
_KEYWORD = re.compile("|".join(f"(?P<{name}>\\b(?:{pattern})(?!\\w))" for name, pattern in KEYWORDS.items()), re.I)
_GROUP = re.compile(r"(?<![A-Za-z\d])\d+(?![A-Za-z\d])")
_SEPARATOR = re.compile(r"\s{1,2}|\s?[-.,]\s?|\)\s?-?\s?|\s?\(|\s?-\s?")
_INTL_BEFORE = re.compile(r"(?:\+|\bplus )$", re.I)
_PREFIX_BEFORE = re.compile(r"(?:\+|\(|\bplus |\barea code )$", re.I)
_MONEY_BEFORE = re.compile(r"[$£€]\s?$|(?:usd|eur|gbp)\s?$", re.I)
_UNIT_AFTER = re.compile(r"\s?(?:%|percent|dollars?|bucks|cents?|pounds?|euros?|am\b|pm\b|a\.m\.|p\.m\.|o'clock|"
                         r"minutes?|hours?|days?|weeks?|months?|years?|items?|boxes|units?|pieces?|times|kg|lbs?|"
                         r"miles?|km|st\b|nd\b|rd\b|th\b|:)", re.I)
FED_PREFIXES = {f"{n:02d}" for n in [*range(0, 13), *range(21, 33), *range(61, 73), 80]}
CONTEXT_CHARS = 60
MAX_DIGITS = 19  # no digit-string PII is longer (cards); longer chains are searched in parts


@dataclass(frozen=True)
class Found:
    """An entity in view coordinates."""

    type: str
    start: int
    end: int


def nearest_keyword(text: str, start: int, end: int, window: int = CONTEXT_CHARS) -> str | None:
    """The class of the keyword nearest before ``start`` (within ``window`` characters), else of
    the first keyword within 25 characters after ``end``; None when there is none."""
    before = list(_KEYWORD.finditer(text, max(0, start - window), start))
    if before:
        return before[-1].lastgroup
    after = _KEYWORD.search(text, end, min(len(text), end + 25))
    return after.lastgroup if after else None


def find_numbers(view: View) -> list[Found]:
    """Every digit-string PII entity in ``view``."""
    found: list[Found] = []
    for chain in _chains(view.text):
        found.extend(_classify_chain(view.text, chain))
    return found


def _chains(text: str) -> list[list[re.Match]]:
    chains: list[list[re.Match]] = []
    for group in _GROUP.finditer(text):
        if chains and _SEPARATOR.fullmatch(text[chains[-1][-1].end():group.start()]):
            chains[-1].append(group)
        else:
            chains.append([group])
    return chains


def _classify_chain(text: str, chain: list[re.Match]) -> list[Found]:
    start, end = chain[0].start(), chain[-1].end()
    if _MONEY_BEFORE.search(text[max(0, start - 5):start]):
        return []
    if _UNIT_AFTER.match(text, end):
        chain = chain[:-1]  # "call 555 123 4567 at 3 pm": only the last group is a time
    context = nearest_keyword(text, start, end)
    found, used = [], set()
    spans = sorted(_spans(chain), key=lambda ij_n: -ij_n[2])
    for i, j, _ in spans:
        if used.intersection(range(i, j + 1)):
            continue
        groups = [g.group() for g in chain[i:j + 1]]
        intl = bool(_INTL_BEFORE.search(text, max(0, chain[i].start() - 6), chain[i].start()))
        kind = classify("".join(groups), tuple(len(g) for g in groups), context, intl, at_start=i == 0)
        if kind:
            used.update(range(i, j + 1))
            found.append(Found(kind, _widen(text, chain[i].start()), chain[j].end()))
    return found


def _spans(chain: list[re.Match]):
    """(first group, last group, digit count) of every part of ``chain`` of at most
    ``MAX_DIGITS`` digits: linear in the chain's length, however long it is."""
    for i in range(len(chain)):
        count = 0
        for j in range(i, len(chain)):
            count += len(chain[j].group())
            if count > MAX_DIGITS:
                break
            yield i, j, count


def classify(digits: str, layout: tuple[int, ...], context: str | None, intl: bool = False,
             at_start: bool = True) -> str | None:
    """The PII type of a digit string read with group sizes ``layout``. ``context`` is the class
    of the nearest keyword; its length rules apply only to a candidate that starts the chain
    (``at_start``), while a look-alike keyword vetoes every weak shape in the chain."""
    n = len(digits)
    own = context if at_start else None
    if own == "account" and 5 <= n <= 17:
        return "BANK_ACCOUNT"
    if own == "card" and 12 <= n <= 19:
        return "CARD_NUMBER"
    if _is_card(digits) and (context != "lookalike" or layout in ((4, 4, 4, 4), (4, 6, 5))):
        return "CARD_NUMBER"
    by_context = {("ssn", 9): "SSN", ("routing", 9): "ROUTING_NUMBER", ("phone", 7): "PHONE", ("phone", 10): "PHONE"}
    if (own, n) in by_context:
        return by_context[(own, n)]
    if own == "natid" and 8 <= n <= 12:
        return "NATIONAL_ID"
    if own == "phone" and n == 11 and digits[0] == "1":
        return "PHONE"
    if layout == (3, 2, 4) and ssn.is_valid(digits):
        return "SSN"
    if intl and 8 <= n <= 15 or layout in ((3, 3, 4), (1, 3, 3, 4)) and _is_nanp(digits):
        return "PHONE"
    if context in ("lookalike", "dob"):
        return None
    if _is_nanp(digits):
        return "PHONE"
    if n == 9 and digits[:2] in FED_PREFIXES and rtn.is_valid(digits):
        return "ROUTING_NUMBER"
    if layout == (3, 3, 3) and ca_sin.is_valid(digits) or n == 12 and aadhaar.is_valid(digits):
        return "NATIONAL_ID"
    if n == 9 and own is None and context is None and ssn.is_valid(digits):
        return "SSN"
    return None


def _is_card(digits: str) -> bool:
    """Luhn-valid with a length its network issues (Visa 13/16/19, Mastercard 16, Amex 15, ...)."""
    n, first = len(digits), digits[0]
    lengths = {"4": (13, 16, 19), "5": (16,), "2": (16,), "6": (16, 17, 18, 19), "3": (14, 15, 16, 17, 18, 19)}
    return n in lengths.get(first, ()) and luhn.is_valid(digits)


def _is_nanp(digits: str) -> bool:
    """A North American number: 10 digits (area and exchange not starting with 0 or 1), or 1 + that."""
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return len(digits) == 10 and digits[0] not in "01" and digits[3] not in "01"


def _widen(text: str, start: int) -> int:
    """Include a "+", "(", "plus" or "area code" right before the first digit."""
    prefix = _PREFIX_BEFORE.search(text, max(0, start - 10), start)
    return prefix.start() if prefix else start
