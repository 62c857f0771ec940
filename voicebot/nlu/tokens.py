"""Tokens with character offsets, and spoken-number parsing shared by the entity extractors.

Recognisers write numbers many ways ("one two three", "1, 2, 3.", "1234", "twelve thirty
four", "double five", "oh" for zero); ``parse_number_run`` turns one run of such tokens into
the digit string the caller meant and, when the run is one cardinal ("four thousand one
hundred seventy two"), its integer value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

EDGE_PUNCT = ".,!?;:\"'()[]{}<>"


@dataclass(frozen=True)
class Token:
    norm: str  # lower-case, edge punctuation stripped
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split on whitespace and commas; hyphenated words ("twenty-one", "A-B-C") become parts."""
    tokens = []
    for m in re.finditer(r"[^\s,;!?]+", text):
        raw, start = m.group(), m.start()
        lead = len(raw) - len(raw.lstrip(EDGE_PUNCT))
        core = raw.strip(EDGE_PUNCT)
        if not core:
            continue
        start += lead
        if "-" in core and re.fullmatch(r"[A-Za-z]+(-[A-Za-z]+)+", core):
            for part in re.finditer(r"[A-Za-z]+", core):
                tokens.append(Token(part.group().lower(), start + part.start(), start + part.end()))
        else:
            tokens.append(Token(core.lower(), start, start + len(core)))
    return tokens


UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
         "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
        "seventy": 70, "eighty": 80, "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ZERO_WORDS = {"oh", "o", "nought", "nil"}  # zero only next to other numbers ("oh five")
HOMOPHONES = {"to": 2, "too": 2, "for": 4, "fore": 4, "won": 1, "ate": 8}  # only between numbers
REPEATS = {"double": 2, "triple": 3}
KEYED = re.compile(r"\+?\d[\d\-]*")
DECIMAL = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?|\d+\.\d+")


def number_kind(tok: str) -> str | None:
    """'unit', 'teen', 'tens', 'scale', 'keyed', 'decimal', 'repeat' or None."""
    if tok in UNITS:
        return "unit"
    if tok in TEENS:
        return "teen"
    if tok in TENS:
        return "tens"
    if tok in SCALES:
        return "scale"
    if tok in REPEATS:
        return "repeat"
    if KEYED.fullmatch(tok) and any(c.isdigit() for c in tok):
        return "keyed"
    if DECIMAL.fullmatch(tok):
        return "decimal"
    return None


def number_runs(tokens: list[Token]) -> list[tuple[int, int]]:
    """Index ranges [i, j) of maximal runs of number tokens. Zero words and homophones count
    only beside real numbers; "a"/"and" only inside cardinals ("a hundred", "hundred and five")."""
    n = len(tokens)
    strong = [number_kind(t.norm) is not None for t in tokens]
    is_num = list(strong)
    # A reply that is nothing but numbers ("for 1 7 2": Whisper's "four") trusts homophones
    # beside one number; inside a sentence ("order for 5 dollars") they need numbers both sides.
    only_numbers = any(strong) and all(s or t.norm in HOMOPHONES or t.norm in ZERO_WORDS for s, t in zip(strong, tokens))
    for i, t in enumerate(tokens):
        left = i > 0 and strong[i - 1]
        right = i + 1 < n and strong[i + 1]
        if t.norm in ZERO_WORDS and (left or right):
            is_num[i] = True
        elif t.norm in HOMOPHONES and ((left and right) or (only_numbers and (left or right))):
            is_num[i] = True
        elif t.norm == "a" and i + 1 < n and tokens[i + 1].norm in ("hundred", "thousand"):
            is_num[i] = True
        elif t.norm == "and" and left and right and i > 0 and tokens[i - 1].norm in SCALES:
            is_num[i] = True
    runs, i = [], 0
    while i < n:
        if is_num[i] and tokens[i].norm != "and":
            j = i
            while j < n and is_num[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def parse_number_run(words: list[str]) -> tuple[str, int | float | None]:
    """Digits spoken or keyed in ``words`` -> (digit string, value if the run is one number)."""
    groups: list[str] = []
    values: list[int | float] = []
    total = part = None
    last = ""

    def flush():
        nonlocal total, part, last
        if total is not None:
            value = total + part
            groups.append(str(value))
            values.append(value)
        total = part = None
        last = ""

    repeat = 1
    for w in words:
        kind = number_kind(w)
        if w in ZERO_WORDS:
            w, kind = "zero", "unit"
        elif w in HOMOPHONES:
            w, kind = {2: "two", 4: "four", 1: "one", 8: "eight"}[HOMOPHONES[w]], "unit"
        elif w == "a":
            w, kind = "one", "unit"
        if kind == "repeat":
            flush()
            repeat = REPEATS[w]
            continue
        if w == "and":
            continue
        if kind == "keyed":
            flush()
            groups.append(re.sub(r"\D", "", w) * repeat)
            values.append(int(re.sub(r"\D", "", w)) if repeat == 1 else None)
            repeat = 1
            continue
        if kind == "decimal":
            flush()
            groups.append(re.sub(r"\D", "", w))
            values.append(float(w.replace(",", "")))
            continue
        if repeat > 1 and kind == "unit":
            flush()
            groups.append(str(UNITS[w]) * repeat)
            values.append(None)
            repeat = 1
            continue
        if kind == "unit":
            if total is not None and last in ("tens", "scale") and part % 10 == 0 and (last == "tens" or part % 100 == 0):
                part += UNITS[w]
            else:
                flush()
                total, part = 0, UNITS[w]
        elif kind in ("teen", "tens"):
            value = TEENS.get(w) or TENS[w]
            if total is not None and last == "scale" and part % 100 == 0:
                part += value
            else:
                flush()
                total, part = 0, value
        elif kind == "scale":
            scale = SCALES[w]
            if total is None:
                total, part = 0, 1
            if scale == 100:
                if part % 100 == 0 and part:  # "one hundred hundred": start again
                    flush()
                    total, part = 0, 1
                part *= 100
            else:
                total, part = (total + part) * scale, 0
        last = kind
    flush()
    digits = "".join(groups)
    value = values[0] if len(values) == 1 else None
    return digits, value
