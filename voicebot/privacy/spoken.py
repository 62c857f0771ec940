"""Spoken numbers to digits, keeping the way back to the original text.

Callers say "four one one one", "forty one eleven", "double five", "oh three", "nineteen
eighty five", "the twenty first"; recognisers write some of that as words and some as digits.
``normalize`` returns a ``View``: the text with every run of number words replaced by digits
("4111", "4111", "55", "03", "1985", "the 21st") and, for every character of the view, the
span of the original it came from, so a match in the view maps back to original offsets.

Rules (chosen on the dev corpus, see docs/privacy.md):
- number words separated only by spaces (or a hyphen, "twenty-one") form one run; punctuation
  ends a run, so "five five five, one two" becomes "555, 12" and keeps its grouping;
- within a run, numbers are written one after another without spaces: "one two three" is
  "123", "forty one eleven" is "4111", "nineteen eighty five" is "1985";
- "hundred" and "thousand" build one number ("four hundred twelve" is "412", "two thousand and
  five" is "2005") except before a run of single digits ("eight hundred five five five" is
  "800555"); "oh"/"o" count as zero only inside a run with other number words;
- an ordinal ends its number and is written with its suffix: "fifth" is "5th".
"""
from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {"zero": 0, "oh": 0, "o": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
         "six": 6, "seven": 7, "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
         "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
            "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
            "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
REPEATS = {"double": 2, "triple": 3}
SCALES = {"hundred": 100, "thousand": 1000}
_WORD = re.compile(r"[A-Za-z]+")
_BELOW_HUNDRED = set(UNITS) | set(TEENS) | set(TENS) | set(ORDINALS)
_NUMBER_WORDS = _BELOW_HUNDRED | set(REPEATS) | set(SCALES)


@dataclass(frozen=True)
class View:
    """Normalised text plus, per character, the original span ``[starts[i], ends[i])`` it stands for."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``(start, end)`` covered by view characters ``[start, end)``."""
        return self.starts[start], self.ends[end - 1]


def ordinal_suffix(n: int) -> str:
    if n % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def normalize(text: str) -> View:
    """The ``View`` of ``text`` with spoken numbers written as digits (see the module rules)."""
    pieces: list[tuple[int, int, str]] = []  # (original start, end, replacement)
    for start, end, words in _number_runs(text):
        digits = _run_to_digits(words)
        if digits is not None:
            pieces.append((start, end, digits))
    out, starts, ends, cursor = [], [], [], 0
    for start, end, replacement in pieces:
        for i in range(cursor, start):
            out.append(text[i]), starts.append(i), ends.append(i + 1)
        out.append(replacement)
        starts.extend([start] * len(replacement)), ends.extend([end] * len(replacement))
        cursor = end
    for i in range(cursor, len(text)):
        out.append(text[i]), starts.append(i), ends.append(i + 1)
    return View("".join(out), tuple(starts), tuple(ends))


def _number_runs(text: str):
    """Maximal runs of number words joined by spaces or a hyphen: (start, end, [words]).
    "and" joins a run only between a scale and a number ("two thousand and five")."""
    run: list[str] = []
    run_start = run_end = 0
    pending_and = None  # end offset of an "and" right after a scale word
    for match in _WORD.finditer(text):
        word = match.group().lower()
        gap = text[(pending_and or run_end):match.start()]
        joined = bool(run) and (gap.isspace() or gap == "-") and run[-1] not in ORDINALS
        if word == "and" and joined and run[-1] in SCALES and pending_and is None:
            pending_and = match.end()
            continue
        if word in _NUMBER_WORDS and joined:
            run.extend(["and", word] if pending_and else [word])
        else:
            if run:
                yield run_start, run_end, run
            run, run_start = ([word], match.start()) if word in _NUMBER_WORDS else ([], 0)
        pending_and = None
        run_end = match.end() if run else run_end
    if run:
        yield run_start, run_end, run


def _run_to_digits(words: list[str]) -> str | None:
    """Digits for a run of number words, or None when the run is not a number ("oh", "o")."""
    if all(w in ("oh", "o") for w in words) or (len(words) == 1 and words[0] in set(REPEATS) | set(SCALES)):
        return None
    parts, i = [], 0
    while i < len(words):
        part, i = _next_number(words, i)
        parts.append(part)
    return "".join(parts)


def _next_number(words: list[str], i: int) -> tuple[str, int]:
    """The digits of the number starting at ``words[i]`` and the index after it."""
    word = words[i]
    if word in REPEATS and i + 1 < len(words) and words[i + 1] in UNITS:
        return str(UNITS[words[i + 1]]) * REPEATS[word], i + 2
    value, i = _below_hundred(words, i)
    if value is None:  # a stray "double", "hundred", "thousand" or "and"
        return "", i + 1
    if isinstance(value, str):  # an ordinal
        return value, i
    total, current = 0, value
    while i < len(words) and words[i] in SCALES:
        if words[i] == "hundred":
            if current == 0 or current >= 100:
                break
            current *= 100
        else:
            total, current = (total + current) * 1000, 0
        i += 1
        j = i + 1 if i < len(words) and words[i] == "and" else i
        if _single_digits_follow(words, j) or j >= len(words) or words[j] not in _BELOW_HUNDRED:
            break
        sub, i = _below_hundred(words, j)
        if isinstance(sub, str):  # "two thousand and first"
            return f"{total + current + int(sub[:-2])}{sub[-2:]}", i
        current += sub
    return str(total + current), i


def _below_hundred(words: list[str], i: int):
    """(value, next index) for a number below 100 at ``words[i]``; an ordinal comes back as text."""
    if i >= len(words):
        return None, i
    word = words[i]
    if word in UNITS:
        return UNITS[word], i + 1
    if word in TEENS:
        return TEENS[word], i + 1
    if word in ORDINALS:
        return f"{ORDINALS[word]}{ordinal_suffix(ORDINALS[word])}", i + 1
    if word in TENS:
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if nxt in UNITS and nxt not in ("oh", "o", "zero", "nought"):
            return TENS[word] + UNITS[nxt], i + 2
        if nxt in ORDINALS and ORDINALS[nxt] < 10:
            n = TENS[word] + ORDINALS[nxt]
            return f"{n}{ordinal_suffix(n)}", i + 2
        return TENS[word], i + 1
    return None, i


def _single_digits_follow(words: list[str], i: int) -> bool:
    """True when two or more single digits start at ``i`` (a number read digit by digit)."""
    return i + 1 < len(words) and words[i] in UNITS and words[i + 1] in UNITS
