"""Dates, times and amounts of money in spoken or typed caller text.

Each finder takes the tokens of one utterance and returns ``Entity`` objects whose ``value``
is normalised: dates as ISO ``YYYY-MM-DD`` (relative words resolved against ``today``),
times as 24-hour ``HH:MM``, money as ``{"amount": float, "currency": "USD"}``.
"""
from __future__ import annotations

import datetime as dt
import re

from voicebot.nlu.base import Entity
from voicebot.nlu.tokens import TENS, UNITS, Token, number_kind, number_runs, parse_number_run

MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())} | {"sept": 9})  # "may" needs a day next to it
WEEKDAYS = {d: i for i, d in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
            "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
            "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
CURRENCIES = {"dollar": "USD", "dollars": "USD", "bucks": "USD", "buck": "USD", "usd": "USD",
              "euro": "EUR", "euros": "EUR", "pound": "GBP", "pounds": "GBP", "quid": "GBP"}
SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}


def _span(text: str, tokens: list[Token], i: int, j: int) -> tuple[str, int, int]:
    return text[tokens[i].start:tokens[j - 1].end], tokens[i].start, tokens[j - 1].end


def _day_at(tokens: list[Token], i: int) -> tuple[int, int] | None:
    """A day of month at token i: "3", "3rd", "third", "twenty first", "21st" -> (day, tokens used)."""
    if i >= len(tokens):
        return None
    w = tokens[i].norm
    m = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", w)
    if m and 1 <= int(m.group(1)) <= 31:
        return int(m.group(1)), 1
    if w in ORDINALS:
        return ORDINALS[w], 1
    if w in TENS and i + 1 < len(tokens):
        nxt = tokens[i + 1].norm
        if nxt in ORDINALS and ORDINALS[nxt] < 10 and TENS[w] + ORDINALS[nxt] <= 31:
            return TENS[w] + ORDINALS[nxt], 2
    if w in UNITS and UNITS[w] > 0 or w in ("ten", "eleven", "twelve"):
        return parse_number_run([w])[1], 1
    return None


def _year_at(tokens: list[Token], i: int) -> tuple[int, int] | None:
    if i < len(tokens) and re.fullmatch(r"(19|20)\d\d", tokens[i].norm):
        return int(tokens[i].norm), 1
    runs = [r for r in number_runs(tokens[i:i + 4]) if r[0] == 0]
    if runs:
        digits, _ = parse_number_run([t.norm for t in tokens[i:i + runs[0][1]]])
        if len(digits) == 4 and digits[:2] in ("19", "20"):
            return int(digits), runs[0][1]
    return None


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def find_dates(text: str, tokens: list[Token], today: dt.date) -> list[Entity]:
    out, i, n = [], 0, len(tokens)
    while i < n:
        w = tokens[i].norm
        found = None  # (date, tokens used)
        if w in ("today", "tonight"):
            found = today, 1
        elif w == "tomorrow":
            found = today + dt.timedelta(days=1), 1
        elif w == "yesterday":
            found = today - dt.timedelta(days=1), 1
        elif w in ("next", "this", "last", "on") and i + 1 < n and tokens[i + 1].norm in WEEKDAYS:
            delta = (WEEKDAYS[tokens[i + 1].norm] - today.weekday()) % 7
            if w == "last":
                delta = delta - 7 if delta else -7
            elif w == "next" and delta == 0:
                delta = 7
            found = today + dt.timedelta(days=delta), 2
        elif w in WEEKDAYS:
            found = today + dt.timedelta(days=(WEEKDAYS[w] - today.weekday()) % 7), 1
        elif w in MONTHS and (day := _day_at(tokens, i + 1)):  # "march third", "march 3rd 2024"
            used = 1 + day[1]
            year = _year_at(tokens, i + used)
            date = _safe_date(year[0] if year else today.year, MONTHS[w], day[0])
            found = (date, used + (year[1] if year else 0)) if date else None
        elif day := _day_at(tokens, i + (1 if w == "the" else 0)):
            k = i + (1 if w == "the" else 0) + day[1]
            if k + 1 < n and tokens[k].norm == "of" and tokens[k + 1].norm in MONTHS:  # "the third of march"
                year = _year_at(tokens, k + 2)
                date = _safe_date(year[0] if year else today.year, MONTHS[tokens[k + 1].norm], day[0])
                found = (date, k + 2 - i + (year[1] if year else 0)) if date else None
        if found is None and (m := re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", w)):
            date = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            found = (date, 1) if date else None
        elif found is None and (m := re.fullmatch(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?", w)):
            year = int(m.group(3)) if m.group(3) else today.year
            date = _safe_date(year + 2000 if year < 100 else year, int(m.group(1)), int(m.group(2)))
            found = (date, 1) if date else None
        if found:
            span, start, end = _span(text, tokens, i, i + found[1])
            out.append(Entity("date", found[0].isoformat(), span, start, end))
            i += found[1]
        else:
            i += 1
    return out


def find_times(text: str, tokens: list[Token]) -> list[Entity]:
    """Clock times: "3:30 pm", "3pm", "three thirty p m", "noon", "half past two",
    "quarter to five", "at five o'clock". Without am/pm, hours 1-7 are taken as afternoon
    (a call-center appointment at "three" is 15:00)."""
    norms = [t.norm.replace(".", "") for t in tokens]
    out, i, n = [], 0, len(tokens)
    while i < n:
        w = norms[i]
        hour = minute = None
        used, explicit = 0, False
        if w in ("noon", "midday"):
            hour, minute, used, explicit = 12, 0, 1, True
        elif w == "midnight":
            hour, minute, used, explicit = 0, 0, 1, True
        elif w in ("half", "quarter") and i + 2 < n and norms[i + 1] in ("past", "after", "to", "til", "before"):
            h = _hour_word(norms[i + 2])
            if h is not None:
                offset = 30 if w == "half" else 15
                if norms[i + 1] in ("to", "til", "before"):
                    h, offset = (h - 1) % 12 or 12, 60 - offset
                hour, minute, used = h, offset, 3
        elif m := re.fullmatch(r"(\d{1,2}):(\d\d)(am|pm)?", w):
            hour, minute, used, explicit = int(m.group(1)), int(m.group(2)), 1, True
            if m.group(3):
                hour, explicit = _apply_meridiem(hour, m.group(3)), "meridiem"
        elif m := re.fullmatch(r"(\d{1,2})(am|pm)", w):
            hour, minute, used, explicit = _apply_meridiem(int(m.group(1)), m.group(2)), 0, 1, "meridiem"
        elif (h := _hour_word(w)) is not None:
            j, minute = i + 1, 0
            if j < n and (mm := _minute_words(norms, j)):
                minute, j = mm
            after = norms[j] if j < n else ""
            pair = after + (norms[j + 1] if j + 1 < n else "")
            prev = norms[i - 1] if i > 0 else ""
            if after in ("am", "pm") or pair in ("am", "pm"):
                hour, used, explicit = _apply_meridiem(h, after if after in ("am", "pm") else pair), j - i + (1 if after in ("am", "pm") else 2), "meridiem"
            elif after in ("oclock", "o'clock"):
                hour, used, explicit = h, j - i + 1, True
            elif prev in ("at", "around", "by", "until", "till") and not (j < n and number_kind(norms[j])):
                hour, used, explicit = h, j - i, True
        if hour is not None and used and 0 <= hour <= 23 and 0 <= (minute or 0) <= 59:
            if explicit != "meridiem" and 1 <= hour <= 7:
                hour += 12
            if used and i + used < n and norms[i + used] in ("am", "pm"):
                used += 1
            span, start, end = _span(text, tokens, i, i + used)
            out.append(Entity("time", f"{hour:02d}:{minute or 0:02d}", span, start, end))
            i += used
        else:
            i += 1
    return out


def _hour_word(w: str) -> int | None:
    if w.isdigit() and 1 <= int(w) <= 12:
        return int(w)
    if w in UNITS and UNITS[w] > 0:
        return UNITS[w]
    return {"ten": 10, "eleven": 11, "twelve": 12}.get(w)


def _minute_words(norms: list[str], j: int) -> tuple[int, int] | None:
    """Minutes after an hour: "thirty", "forty five", "oh five", "fifteen" -> (minutes, next index)."""
    w = norms[j]
    if w in ("oh", "o") and j + 1 < len(norms) and norms[j + 1] in UNITS:
        return UNITS[norms[j + 1]], j + 2
    if w in TENS:
        if j + 1 < len(norms) and norms[j + 1] in UNITS and UNITS[norms[j + 1]] > 0:
            return TENS[w] + UNITS[norms[j + 1]], j + 2
        return TENS[w], j + 1
    if number_kind(w) == "teen":
        return parse_number_run([w])[1], j + 1
    if w.isdigit() and len(w) == 2 and int(w) < 60:
        return int(w), j + 1
    return None


def _apply_meridiem(hour: int, meridiem: str) -> int:
    hour %= 12
    return hour + 12 if meridiem == "pm" else hour


def find_money(text: str, tokens: list[Token]) -> list[Entity]:
    """"$5.50", "$1,200", "five dollars and fifty cents", "twenty bucks", "fifty cents", "10 euros"."""
    out = []
    for m in re.finditer(r"([$€£])\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?", text):
        amount = float(m.group(2).replace(",", "") + (m.group(3) or ""))
        out.append(Entity("money", {"amount": round(amount, 2), "currency": SYMBOLS[m.group(1)]}, m.group(), m.start(), m.end()))
    taken = {(e.start, e.end) for e in out}
    for i, j in number_runs(tokens):
        if any(s <= tokens[i].start < e for s, e in taken):
            continue  # already inside an amount ("... dollars and fifty cents")
        unit = tokens[j].norm if j < len(tokens) else ""
        digits, value = parse_number_run([t.norm for t in tokens[i:j]])
        if value is None:
            continue
        end = j
        if unit in CURRENCIES:
            amount, currency, end = float(value), CURRENCIES[unit], j + 1
            k = end + (1 if end < len(tokens) and tokens[end].norm == "and" else 0)
            cents = [r for r in number_runs(tokens[k:k + 3]) if r[0] == 0]
            if cents:
                c_val = parse_number_run([t.norm for t in tokens[k:k + cents[0][1]]])[1]
                after = k + cents[0][1]
                if c_val is not None and c_val < 100 and (after >= len(tokens) or tokens[after].norm in ("cents", "cent", "pence", "")):
                    amount += c_val / 100
                    end = after + (1 if after < len(tokens) and tokens[after].norm in ("cents", "cent", "pence") else 0)
        elif unit in ("cents", "cent", "pence"):
            amount, currency, end = value / 100, "USD" if unit != "pence" else "GBP", j + 1
        else:
            continue
        span, start, stop = _span(text, tokens, i, end)
        taken.add((start, stop))
        out.append(Entity("money", {"amount": round(amount, 2), "currency": currency}, span, start, stop))
    return out
