"""A customer's rights over their data, found by phone number: ``export_subject`` (everything
held about them, as JSON-able data) and ``erase_subject`` (delete it from every table).

What is held about a phone number: the customer record and their orders, their remembered
recording decision, the callbacks they asked for, and the calls they made (each with its transcript lines and transfer
contexts). Calls are found by the keyed hash of the caller's number, so a call whose caller
declined recording (its numbers were never kept) is not theirs any more. Files: the server
writes no recordings, and speech it synthesised with personal data is never cached on disk
(``voicebot.tts`` caches fixed prompts only), so there is no file to delete. After erasing,
SQLite's write-ahead log is emptied (deleted rows are overwritten by ``secure_delete``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, select

from voicebot.storage.callbacks import Callback, callbacks_for_phone
from voicebot.storage.calls import load_call
from voicebot.storage.customers import customers_with_phone, order_dict
from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.phones import normalise_phone, phone_hashes
from voicebot.storage.tables import Call, Consent, Customer, Order, TransferRecord, Turn


def export_subject(db: Database, phone: str) -> dict[str, Any]:
    """Everything held about ``phone``: customers (every one sharing the number), orders, consent, calls (oldest first) with their
    transcripts and transfer contexts; ``unreadable`` lists values no key opens."""
    hashes = phone_hashes(db, phone)
    with db.session() as s:
        customers = customers_with_phone(s, db, phone)  # a shared household line holds several
        orders = [order_dict(o) for customer in customers for o in customer.orders]
        consent = s.scalar(select(Consent).where(Consent.phone_hash.in_(hashes))) if hashes else None
        call_sids = s.scalars(select(Call.call_sid).where(Call.caller_hash.in_(hashes)).order_by(Call.id)).all() if hashes else []
        profiles = [_profile(customer) for customer in customers]
        decision = None if consent is None else {"granted": consent.granted, "decided_at": consent.decided_at.isoformat()}
    calls = [call for call in (load_call(db, sid) for sid in call_sids) if call is not None]
    for call in calls:
        call["transfers"] = _transfers(db, call["id"])
    unreadable = [where for call in calls for where in call.pop("unreadable")]
    return {"phone": normalise_phone(phone), "exported_at": datetime.now(timezone.utc).isoformat(),
            "customers": profiles, "orders": orders, "consent": decision, "calls": calls,
            "callbacks": callbacks_for_phone(db, phone), "unreadable": unreadable}


def erase_subject(db: Database, phone: str) -> dict[str, int]:
    """Delete everything held about ``phone``; the number of rows deleted per table. Idempotent."""
    hashes = phone_hashes(db, phone)
    counts = dict.fromkeys(("customers", "orders", "consents", "calls", "turns", "transfers", "callbacks"), 0)
    if not hashes:
        return counts
    with db.session() as s:
        ids = [customer.id for customer in customers_with_phone(s, db, phone)]
        if ids:
            counts["orders"] = s.execute(delete(Order).where(Order.customer_id.in_(ids))).rowcount
            counts["customers"] = s.execute(delete(Customer).where(Customer.id.in_(ids))).rowcount
        counts["consents"] = s.execute(delete(Consent).where(Consent.phone_hash.in_(hashes))).rowcount
        counts["callbacks"] = s.execute(delete(Callback).where(Callback.phone_hash.in_(hashes))).rowcount
        calls = select(Call.id).where(Call.caller_hash.in_(hashes))
        counts["turns"] = s.execute(delete(Turn).where(Turn.call_id.in_(calls))).rowcount
        counts["transfers"] = s.execute(delete(TransferRecord).where(TransferRecord.call_id.in_(calls))).rowcount
        counts["calls"] = s.execute(delete(Call).where(Call.caller_hash.in_(hashes))).rowcount
    db.checkpoint()
    return counts


def _profile(customer: Customer) -> dict[str, Any]:
    """Every personal field of one customer row (verification counters included)."""
    return {"name": readable(customer.name, None), "phone": readable(customer.phone, None),
            "email": readable(customer.email, None), "tier": customer.tier,
            "postcode": readable(customer.postcode, None), "birth_date": readable(customer.birth_date, None),
            "language": customer.language, "preferences": readable(customer.preferences, None),
            "external_id": customer.external_id, "failed_verifications": customer.failed_verifications,
            "locked_until": customer.locked_until.isoformat() if customer.locked_until else None}


def _transfers(db: Database, call_id: int) -> list[dict[str, Any]]:
    with db.session() as s:
        records = s.scalars(select(TransferRecord).where(TransferRecord.call_id == call_id).order_by(TransferRecord.id)).all()
        return [{"id": r.id, "destination": r.destination, "reason": r.reason, "context": readable(r.context, None),
                 "created_at": r.created_at.isoformat()} for r in records]
