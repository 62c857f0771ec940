"""The ``request_callback`` data source: a caller's "call me back tomorrow at 10" becomes a
stored callback (``storage.callbacks``).

Params: ``phone`` (the caller), ``when`` (the caller's words), optional ``name``, ``reason`` and
``call_sid``. Dates and times are read with the understanding layer's finders
(``nlu.datetimes``: "tomorrow", "Friday", "at 3 pm", "half past ten"); a time alone means the
next time that clock time comes, a day alone means ``DEFAULT_HOUR`` on that day. Times are
taken in the server's clock (UTC). Answers ``{"ok": True, "id", "due_at", "spoken"}`` or
``{"ok": False, "reason": ...}`` (no time understood, a time in the past, no number to call)
so the flow can ask again; nothing is stored then.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

from voicebot.nlu.datetimes import find_dates, find_times
from voicebot.nlu.tokens import tokenize
from voicebot.storage.callbacks import add_callback
from voicebot.storage.db import Database
from voicebot.storage.phones import normalise_phone

DEFAULT_HOUR = 10
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def callback_time(words: str, now: datetime) -> datetime | None:
    """When ``words`` ask to be called back, relative to ``now`` (aware); None if no day or time."""
    tokens = tokenize(words or "")
    dates = find_dates(words or "", tokens, now.date())
    times = find_times(words or "", tokens)
    if not dates and not times:
        return None
    clock = time(*map(int, times[0].value.split(":"))) if times else time(DEFAULT_HOUR)
    day = datetime.fromisoformat(dates[0].value).date() if dates else now.date()
    due = datetime.combine(day, clock, tzinfo=now.tzinfo or timezone.utc)
    if not dates and due <= now:
        due += timedelta(days=1)
    return due


def spoken_time(due: datetime, now: datetime) -> str:
    """"today at 3 PM", "tomorrow at 10 AM", "Friday at 9:30 AM"."""
    days = (due.date() - now.date()).days
    day = "today" if days == 0 else "tomorrow" if days == 1 else WEEKDAYS[due.weekday()]
    hour = due.hour % 12 or 12
    clock = f"{hour}" if due.minute == 0 else f"{hour}:{due.minute:02d}"
    return f"{day} at {clock} {'AM' if due.hour < 12 else 'PM'}"


def request_callback(db: Database, params: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Store the callback ``params`` ask for (see the module's promises)."""
    now = now or datetime.now(timezone.utc)
    phone = normalise_phone(str(params.get("phone", "")))
    if len(phone) < 8:
        return {"ok": False, "reason": "no number to call back"}
    words = str(params.get("when", ""))
    due = callback_time(words, now)
    if due is None:
        return {"ok": False, "reason": "no time understood"}
    if due <= now:
        return {"ok": False, "reason": "that time has passed"}
    callback_id = add_callback(db, phone, due, call_sid=str(params.get("call_sid", "")), name=str(params.get("name", "")),
                               requested_text=words, reason=str(params.get("reason", "")))
    return {"ok": True, "id": callback_id, "due_at": due.isoformat(), "spoken": spoken_time(due, now)}
