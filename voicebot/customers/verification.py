"""Identity verification: ``verify_identity(db, customer_id, factor, answer)``.

Factors: ``postcode`` (letters and digits compared without spaces or case; spoken number words
count as digits: "nine four one oh seven" is 94107), ``date_of_birth`` (any answer holding the
ISO date, as the flow's date slot gives it) and ``last_order`` (the digits of the customer's most
recent order number).

Promises:
- a failed answer returns ``{"ok": False, ...}`` and nothing else about the customer;
- failures are counted per customer across calls: after ``MAX_FAILURES`` in a row the profile
  is locked for ``LOCK_MINUTES`` (every answer then fails with ``locked: True``, even a right one),
  so attempts are limited per call by the flow and per customer here;
- a success resets the count and releases what the flow may now say: the most recent order
  (item, number, status, eta, and a phrase such as "shipped on Tuesday").
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.tables import Customer

FACTORS = ("postcode", "date_of_birth", "last_order")
MAX_FAILURES = 5
LOCK_MINUTES = 30
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NUMBER_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                 "six": "6", "seven": "7", "eight": "8", "nine": "9"}


def verify_identity(db: Database, customer_id, factor: str, answer: str, now: datetime | None = None) -> dict:
    """Check ``answer`` against the customer's ``factor`` (see the module's promises)."""
    now = now or datetime.now(timezone.utc)
    if factor not in FACTORS:
        return {"ok": False, "locked": False, "reason": f"unknown factor {factor!r}"}
    try:
        customer_id = int(str(customer_id))
    except ValueError:
        return {"ok": False, "locked": False, "reason": "no customer"}
    with db.session() as session:
        customer = session.scalar(select(Customer).where(Customer.id == customer_id))
        if customer is None:
            return {"ok": False, "locked": False, "reason": "no customer"}
        if customer.locked_until is not None and _aware(customer.locked_until) > now:
            return {"ok": False, "locked": True, "reason": "locked"}
        expected = _expected(customer, factor)
        if not expected:
            return {"ok": False, "locked": False, "reason": "factor not on file"}
        if _normalise(factor, answer) != expected:
            customer.failed_verifications = (customer.failed_verifications or 0) + 1
            locked = customer.failed_verifications >= MAX_FAILURES
            if locked:
                customer.locked_until, customer.failed_verifications = now + timedelta(minutes=LOCK_MINUTES), 0
            return {"ok": False, "locked": locked, "reason": "mismatch"}
        customer.failed_verifications, customer.locked_until = 0, None
        return {"ok": True, "locked": False, "last_order": _last_order(customer)}


def _expected(customer: Customer, factor: str) -> str:
    if factor == "postcode":
        return _normalise("postcode", readable(customer.postcode, ""))
    if factor == "date_of_birth":
        return _normalise("date_of_birth", readable(customer.birth_date, ""))
    newest = _newest(customer)
    return newest.number if newest else ""


def _normalise(factor: str, answer) -> str:
    text = str(answer or "").lower()
    if factor == "date_of_birth":
        found = re.search(r"\d{4}-\d{2}-\d{2}", text)
        return found.group(0) if found else ""
    words = [_NUMBER_WORDS.get(w, w) for w in re.findall(r"[a-z0-9]+", text)]
    joined = "".join(words).upper()
    return re.sub(r"\D", "", joined) if factor == "last_order" else joined


def _newest(customer: Customer):
    return max(customer.orders, key=lambda o: _aware(o.placed_at), default=None)


def _last_order(customer: Customer) -> dict:
    order = _newest(customer)
    if order is None:
        return {}
    item = order.item.lower()
    if order.status == "shipped" and order.shipped_at is not None:
        when = f"shipped on {WEEKDAYS[order.shipped_at.weekday()]}"
    elif order.status == "delivered":
        when = "was delivered"
    else:
        when = f"is {order.status}"
    return {"number": order.number, "item": item, "status": order.status, "eta": order.eta, "when": when}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
