"""Customers and their orders: the queries flows and the session need (caller lookup by phone,
orders by number or phone, recommendations from past purchases). Phones are found by their
keyed hash (``storage.phones``: one normalisation for every lookup). Each function opens its own
short transaction and returns plain dicts (JSON-able, ready for a flow's variables), never ORM
objects.
"""
from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import select

from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.phones import normalise_phone, phone_hashes
from voicebot.storage.tables import Customer, Order

__all__ = ["customer_by_phone", "customers_with_phone", "find_customer", "normalise_phone", "order_dict", "order_by_number",
           "orders_by_phone", "recommendations"]


def find_customer(session, db: Database, phone: str) -> Customer | None:
    """The (first) customer row whose phone is ``phone`` (any format), in ``session``; None if none.
    Callers that must not guess between customers sharing a number use ``customers_with_phone``."""
    hashes = phone_hashes(db, phone)
    return session.scalar(select(Customer).where(Customer.phone_hash.in_(hashes)).order_by(Customer.id)) if hashes else None


def customers_with_phone(session, db: Database, phone: str) -> list[Customer]:
    """Every customer row with this phone number (a shared household line gives several)."""
    hashes = phone_hashes(db, phone)
    return list(session.scalars(select(Customer).where(Customer.phone_hash.in_(hashes)).order_by(Customer.id))) if hashes else []


def _customer_dict(customer: Customer) -> dict:
    name = readable(customer.name, "")
    return {
        "found": True, "id": customer.id, "name": name, "first_name": (name.split() or [""])[0],
        "phone": readable(customer.phone, ""), "email": readable(customer.email, ""), "tier": customer.tier,
    }


def order_dict(order: Order) -> dict:
    return {
        "found": True, "number": order.number, "status": order.status, "item": order.item,
        "category": order.category, "total": order.total, "eta": order.eta,
        "customer_name": readable(order.customer.name, "") if order.customer else "",
    }


def customer_by_phone(db: Database, phone: str) -> dict:
    """The customer with this phone number, or ``{"found": False}`` (also when several share it)."""
    with db.session() as session:
        matches = customers_with_phone(session, db, phone)
        return _customer_dict(matches[0]) if len(matches) == 1 else {"found": False, "phone": normalise_phone(phone)}


def order_by_number(db: Database, number: str) -> dict:
    """The order with this number (digits only are compared), or ``{"found": False}``."""
    number = re.sub(r"\D", "", str(number))
    with db.session() as session:
        order = session.scalar(select(Order).where(Order.number == number))
        return order_dict(order) if order else {"found": False, "number": number}


def orders_by_phone(db: Database, phone: str) -> dict:
    """All orders of the customer with this phone number, newest first."""
    with db.session() as session:
        customer = find_customer(session, db, phone)
        if customer is None:
            return {"found": False, "count": 0, "orders": []}
        orders = sorted(customer.orders, key=lambda o: o.placed_at, reverse=True)
        return {"found": bool(orders), "count": len(orders), "orders": [order_dict(o) for o in orders]}


def recommendations(db: Database, phone: str, limit: int = 2) -> dict:
    """Items other customers bought in the categories this caller bought from, that the caller
    does not own yet. ``found`` is False (and ``items`` are best sellers) for unknown callers or
    callers without a match. ``items`` is a phrase ready to speak ("a and b")."""
    with db.session() as session:
        all_orders = session.scalars(select(Order)).all()
        customer = find_customer(session, db, phone)
        mine = [o for o in all_orders if customer and o.customer_id == customer.id]
        owned = {o.item for o in mine}
        categories = {o.category for o in mine}
        candidates = Counter(o.item for o in all_orders if o.category in categories and o.item not in owned)
        picks = [item for item, _ in candidates.most_common(limit)]
        found = bool(picks)
        if not found:
            picks = [item for item, _ in Counter(o.item for o in all_orders).most_common(limit)]
        last = max(mine, key=lambda o: o.placed_at).item if mine else ""
        return {"found": found, "items": _spoken_list(picks), "item_list": picks, "last_item": last.lower()}


def _spoken_list(items: list[str]) -> str:
    items = [i.lower() for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
