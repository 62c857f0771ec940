"""The caller's profile, found by caller ID at call start: ``caller_profile(db, phone)``.

Promises:
- an unknown caller, a withheld caller ID and a number shared by several customers all give
  ``{"found": False, "reason": ...}`` (``unknown`` / ``withheld`` / ``shared_number``): the call
  goes on generically and no one's data is guessed;
- a known caller's profile holds what may be used BEFORE verification: name (for the greeting),
  language, tier, consent flags, segments from history and which verification factors are on
  file. Orders, postcode and birth date are never in it (``customers.verification`` releases the
  most recent order only after the caller proved who they are);
- segments: ``frequent_buyer`` (at least ``FREQUENT_ORDERS`` orders within ``FREQUENT_DAYS``),
  ``recent_complaint`` (a call from this number within ``COMPLAINT_DAYS`` that was handed over
  because the caller was upset or complained, or in which frustration reached ``UPSET_AT``).
- with a CRM fetcher (``customers.importer.crm_fetcher``) an unknown number is asked there once; a CRM that is
  down or slow gives ``reason: crm_unavailable`` and the call goes on without personalisation.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import func, select

from voicebot.errors import CrmUnavailableError
from voicebot.storage.customers import customers_with_phone
from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.phones import normalise_phone, phone_hashes
from voicebot.storage.tables import Call, Customer, TransferRecord, Turn

FREQUENT_ORDERS = 3
FREQUENT_DAYS = 365
COMPLAINT_DAYS = 30
UPSET_AT = 0.6
COMPLAINT_REASONS = ("caller_frustrated", "complaint")


def caller_profile(db: Database, phone: str, now: datetime | None = None,
                   crm: Callable[[str], dict | None] | None = None) -> dict:
    """The profile of the caller on ``phone`` (see the module's promises)."""
    now = now or datetime.now(timezone.utc)
    normal = normalise_phone(phone)
    if not normal or normal.lstrip("+") in ("", "0") or len(normal) < 5:
        return {"found": False, "reason": "withheld", "phone": ""}
    with db.session() as session:
        matches = customers_with_phone(session, db, phone)
        if len(matches) > 1:
            return {"found": False, "reason": "shared_number", "phone": normal}
        if matches:
            return _profile(session, db, matches[0], now)
    if crm is None:
        return {"found": False, "reason": "unknown", "phone": normal}
    from voicebot.customers.importer import import_records  # only when a CRM is configured

    try:
        record = crm(normal)
    except CrmUnavailableError:
        return {"found": False, "reason": "crm_unavailable", "phone": normal}
    if not record:
        return {"found": False, "reason": "unknown", "phone": normal}
    import_records(db, [dict(record, phone=normal)])
    return caller_profile(db, phone, now)  # now stored locally: one code path for the profile


def _profile(session, db: Database, customer: Customer, now: datetime) -> dict:
    name = readable(customer.name, "")
    orders = list(customer.orders)
    recent = [o for o in orders if _aware(o.placed_at) >= now - timedelta(days=FREQUENT_DAYS)]
    segments = []
    if len(recent) >= FREQUENT_ORDERS:
        segments.append("frequent_buyer")
    if _recent_complaint(session, db, readable(customer.phone, ""), now):
        segments.append("recent_complaint")
    factors = [f for f, value in (("postcode", readable(customer.postcode, "")),
                                  ("date_of_birth", readable(customer.birth_date, ""))) if value]
    if orders:
        factors.append("last_order")
    preferences = readable(customer.preferences, {}) or {}
    return {
        "found": True, "id": customer.id, "name": name, "first_name": (name.split() or [""])[0],
        "phone": readable(customer.phone, ""), "email": readable(customer.email, ""), "tier": customer.tier,
        "language": customer.language or "en", "preferences": preferences,
        "marketing_ok": bool(preferences.get("marketing")), "segments": segments,
        "frequent_buyer": "frequent_buyer" in segments, "recent_complaint": "recent_complaint" in segments,
        "order_count": len(orders), "factors": factors, "verifiable": bool(factors),
        "can_verify_postcode": "postcode" in factors,
    }


def _recent_complaint(session, db: Database, phone: str, now: datetime) -> bool:
    hashes = phone_hashes(db, phone)
    if not hashes:
        return False
    since = now - timedelta(days=COMPLAINT_DAYS)
    calls = select(Call.id).where(Call.caller_hash.in_(hashes), Call.started_at >= since)
    handed = session.scalar(select(func.count(TransferRecord.id)).where(
        TransferRecord.call_id.in_(calls), TransferRecord.reason.in_(COMPLAINT_REASONS)))
    upset = session.scalar(select(func.count(Turn.id)).where(Turn.call_id.in_(calls), Turn.frustration >= UPSET_AT))
    return bool(handed or upset)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
