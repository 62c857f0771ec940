"""Query-string filters shared by the console's pages: a date range as ``from``/``to``
(``YYYY-MM-DD``, ``to`` inclusive). A malformed date is a 400 naming the field."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import abort


def parse_day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        abort(400, description=f"{field}: {value!r} is not a date (YYYY-MM-DD)")


def date_range(args, default_days: int | None = None) -> tuple[datetime | None, datetime | None, dict]:
    """(since, until) as UTC datetimes for a query, and the form values to show back."""
    start, end = parse_day(args.get("from", ""), "from"), parse_day(args.get("to", ""), "to")
    if start is None and default_days is not None:
        start = datetime.now(timezone.utc).date() - timedelta(days=default_days - 1)
    if start and end and end < start:
        abort(400, description="the range ends before it starts")
    since = datetime.combine(start, time.min, timezone.utc) if start else None
    until = datetime.combine(end + timedelta(days=1), time.min, timezone.utc) if end else None
    return since, until, {"from": start.isoformat() if start else "", "to": end.isoformat() if end else ""}
