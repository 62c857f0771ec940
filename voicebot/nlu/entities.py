"""Entities in caller text, typed or recognised from speech (messy: "1, 2, 3.", "oh" for zero).

``extract_entities(text)`` returns every entity found, ordered by position. Kinds and values:
  digits        "1234"             every run of spoken/keyed digits ("one two three four", "double five")
  number        4172               a run that is one cardinal ("four thousand one hundred seventy two")
  order_number  "AB1234"           a digit or letter+digit code when the caller talks about an order
  phone         "+15551234567"     10 digits (or 11 starting with 1), or keyed "+..."
  letters       "ABC"              spelled letters, NATO words, "b as in bravo"
  email         "john.smith@example.com"  typed or spoken ("john dot smith at example dot com")
  yesno         True / False       yes/no in their many spoken forms ("yeah", "nope", "that's right")
  date          "2026-03-03"       (relative words resolved against ``today``)
  time          "15:30"
  money         {"amount": 5.5, "currency": "USD"}
"""
from __future__ import annotations

import datetime as dt
import re

from voicebot.nlu.base import Entity
from voicebot.nlu.datetimes import find_dates, find_money, find_times
from voicebot.nlu.tokens import Token, number_runs, parse_number_run, tokenize
from voicebot.vocabulary import find_answer

ORDER_CONTEXT = {"order", "orders", "tracking", "confirmation", "reference", "ticket", "case", "package", "parcel", "invoice"}
NATO = {"alpha": "A", "alfa": "A", "bravo": "B", "charlie": "C", "delta": "D", "echo": "E", "foxtrot": "F",
        "golf": "G", "hotel": "H", "india": "I", "juliet": "J", "juliett": "J", "kilo": "K", "lima": "L",
        "mike": "M", "november": "N", "oscar": "O", "papa": "P", "quebec": "Q", "romeo": "R", "sierra": "S",
        "tango": "T", "uniform": "U", "victor": "V", "whiskey": "W", "whisky": "W", "x-ray": "X", "xray": "X",
        "yankee": "Y", "zulu": "Z"}
# How recognisers write a spoken letter; trusted only inside a run with real letters.
LETTER_SOUNDS = {"bee": "B", "be": "B", "see": "C", "sea": "C", "dee": "D", "ef": "F", "gee": "G", "jay": "J",
                 "kay": "K", "el": "L", "em": "M", "en": "N", "pee": "P", "pea": "P", "queue": "Q", "cue": "Q",
                 "are": "R", "es": "S", "tee": "T", "tea": "T", "you": "U", "vee": "V", "ex": "X",
                 "why": "Y", "zed": "Z", "zee": "Z", "aitch": "H", "eye": "I"}
TLDS = {"com", "org", "net", "edu", "gov", "io", "co", "uk", "us", "info", "biz", "me", "ca", "de", "ai"}
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CONNECTORS = {"dot": ".", "period": ".", "point": ".", "underscore": "_", "dash": "-", "hyphen": "-"}


def extract_entities(text: str, today: dt.date | None = None) -> tuple[Entity, ...]:
    """All entities in ``text``, ordered by start offset (see module docstring for kinds)."""
    if not text or not text.strip():
        return ()
    today = today or dt.date.today()
    tokens = tokenize(text)
    emails = find_emails(text, tokens)
    in_email = [any(e.start <= t.start < e.end for e in emails) for t in tokens]
    free = [t for t, used in zip(tokens, in_email) if not used]
    found = list(emails)
    found += find_numbers(text, free)
    found += find_letters(text, free)
    found += find_yesno(text, free)
    found += find_dates(text, free, today)
    found += find_times(text, free)
    found += find_money(text, free)
    return tuple(sorted(found, key=lambda e: (e.start, -e.end)))


def _span(text: str, tokens: list[Token], i: int, j: int) -> tuple[str, int, int]:
    return text[tokens[i].start:tokens[j - 1].end], tokens[i].start, tokens[j - 1].end


def _letter(tokens: list[Token], i: int, loose: bool) -> tuple[str, int] | None:
    """The letter spelled at token i -> (letter, tokens used); "b as in bravo" uses four."""
    w = tokens[i].norm
    letter = None
    if len(w) == 1 and w.isalpha():
        letter = w.upper()
    elif w in NATO:
        letter = NATO[w]
    elif loose and w in LETTER_SOUNDS:
        letter = LETTER_SOUNDS[w]
    elif w in ("double", "triple") and i + 1 < len(tokens) and len(tokens[i + 1].norm) == 1 and tokens[i + 1].norm.isalpha():
        return tokens[i + 1].norm.upper() * (2 if w == "double" else 3), 2
    if letter is None:
        return None
    if i + 3 < len(tokens) and tokens[i + 1].norm == "as" and tokens[i + 2].norm in ("in", "for"):
        return letter, 4
    return letter, 1


def find_letters(text: str, tokens: list[Token]) -> list[Entity]:
    """Runs of >= 2 spelled letters with at least one unambiguous letter (not "a"/"i" alone)."""
    out, i = [], 0
    while i < len(tokens):
        j, letters, strong = i, "", 0
        while j < len(tokens) and (got := _letter(tokens, j, loose=bool(letters))):
            letters += got[0]
            strong += tokens[j].norm not in ("a", "i") and tokens[j].norm not in LETTER_SOUNDS
            j += got[1]
        if len(letters) >= 2 and strong:
            span, start, end = _span(text, tokens, i, j)
            out.append(Entity("letters", letters, span, start, end))
            i = j
        else:
            i += 1
    return out


def find_numbers(text: str, tokens: list[Token]) -> list[Entity]:
    """digits (+ number, phone, order_number) for each run of number words or keyed digits."""
    out = []
    order_context = any(t.norm in ORDER_CONTEXT for t in tokens)
    for i, j in number_runs(tokens):
        digits, value = parse_number_run([t.norm for t in tokens[i:j]])
        if not digits:
            continue
        span, start, end = _span(text, tokens, i, j)
        out.append(Entity("digits", digits, span, start, end))
        if value is not None and isinstance(value, int):
            out.append(Entity("number", value, span, start, end))
        if span.startswith("+") and len(digits) >= 8:
            out.append(Entity("phone", "+" + digits, span, start, end))
        elif len(digits) == 10 and digits[0] not in "01":
            out.append(Entity("phone", "+1" + digits, span, start, end))
        elif len(digits) == 11 and digits[0] == "1":
            out.append(Entity("phone", "+" + digits, span, start, end))
        if order_context and len(digits) >= 3:
            k, prefix = i, ""
            while k > 0 and (got := _letter(tokens, k - 1, loose=False)) and got[1] == 1 and (prefix or tokens[k - 1].norm not in ("a", "i")):
                prefix, k = got[0] + prefix, k - 1
            span, start, end = _span(text, tokens, k, j)
            out.append(Entity("order_number", prefix + digits, span, start, end))
    for m in re.finditer(r"(?<![\w@])#?([A-Za-z]{1,4}-?\d{3,})\b", text):  # typed codes "AB-12345", "#A1234"
        if order_context or m.group().startswith("#"):
            code = re.sub(r"[^A-Za-z0-9]", "", m.group(1)).upper()
            out.append(Entity("order_number", code, m.group(), m.start(), m.end()))
    return out


def find_yesno(text: str, tokens: list[Token]) -> list[Entity]:
    """The first yes/no answer (``voicebot.vocabulary``): the earliest, then longest, phrase wins,
    so "not right" is no and "no problem" is neither."""
    found = find_answer([t.norm.replace("’", "'") for t in tokens])
    if found is None or found[0] is None:
        return []
    value, i, j = found
    span, start, end = _span(text, tokens, i, j)
    return [Entity("yesno", value, span, start, end)]


def find_emails(text: str, tokens: list[Token]) -> list[Entity]:
    """Typed addresses, and spoken ones: "<local> at <domain> dot <tld>"."""
    out = [Entity("email", m.group().lower(), m.group(), m.start(), m.end()) for m in EMAIL_RE.finditer(text)]
    norms = [t.norm for t in tokens]
    for a, w in enumerate(norms):
        if w not in ("at", "@") or a == 0:
            continue
        domain, k = [], a + 1  # domain: word (dot word)+ ending in a known TLD
        while k < len(norms) and re.fullmatch(r"[a-z0-9]+", norms[k]):
            domain.append(norms[k])
            if k + 1 < len(norms) and norms[k + 1] in ("dot", "period", "point", "."):
                domain.append(".")
                k += 2
            else:
                k += 1
                break
        if len(domain) < 3 or domain[-1] not in TLDS or domain[-2] != ".":
            continue
        local, s = _spoken_local_part(norms, a)
        if not local:
            continue
        address = f"{local}@{''.join(domain)}"
        if not any(e.value == address for e in out):
            span, start, end = _span(text, tokens, s, k)
            out.append(Entity("email", address, span, start, end))
    return out


def _spoken_local_part(norms: list[str], at: int) -> tuple[str, int]:
    """The part before "at": spelled letters/digits and words joined by dot/underscore/dash."""
    stop = {"is", "email", "address", "it's", "its", "my", "me", "the", "mail", "e-mail", "send", "to", "was"}
    parts, s = [], at
    while s > 0:
        w = norms[s - 1]
        if w in stop:
            break
        if w in CONNECTORS and parts:
            parts.insert(0, CONNECTORS[w])
        elif re.fullmatch(r"[a-z0-9]+", w):
            single = len(w) == 1 or w in ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
            joined = not parts or parts[0] in CONNECTORS.values() or single
            if not joined:
                break
            digit = parse_number_run([w])[0] if single and len(w) > 1 else w
            parts.insert(0, digit)
            before = norms[s - 2] if s >= 2 else ""
            if not single and before not in CONNECTORS and not (len(before) == 1 and before.isalpha() and before not in "ai"):
                s -= 1
                break  # a plain word before this one is not part of the address ("is", "uh")
        else:
            break
        s -= 1
    while parts and parts[0] in CONNECTORS.values():
        parts.pop(0)
        s += 1
    return "".join(parts), s
