"""Customers and their orders: the queries flows and the session need (caller lookup by phone,
orders by number or phone, recommendations from past purchases). One phone normalisation for
every lookup. Each function opens its own short transaction and returns plain dicts (JSON-able,
ready for a flow's variables), never ORM objects.
"""
from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import select

from voicebot.storage.db import Database
from voicebot.storage.tables import Customer, Order


def normalise_phone(phone: str) -> str:
    """Digits with a leading + (E.164 style): '(555) 000-1111' and '+1 555 000 1111' compare equal
    when the country code is given; a 10-digit number is taken as North American (+1)."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 10:
        digits = "1" + digits
    return f"+{digits}" if digits else ""


def _customer_dict(customer: Customer) -> dict:
    return {
        "found": True, "id": customer.id, "name": customer.name, "first_name": customer.name.split()[0],
        "phone": customer.phone, "email": customer.email, "tier": customer.tier,
    }


def _order_dict(order: Order) -> dict:
    return {
        "found": True, "number": order.number, "status": order.status, "item": order.item,
        "category": order.category, "total": order.total, "eta": order.eta,
        "customer_name": order.customer.name if order.customer else "",
    }


def customer_by_phone(db: Database, phone: str) -> dict:
    """The customer with this phone number, or ``{"found": False}``."""
    with db.session() as session:
        customer = session.scalar(select(Customer).where(Customer.phone == normalise_phone(phone)))
        return _customer_dict(customer) if customer else {"found": False, "phone": normalise_phone(phone)}


def order_by_number(db: Database, number: str) -> dict:
    """The order with this number (digits only are compared), or ``{"found": False}``."""
    number = re.sub(r"\D", "", str(number))
    with db.session() as session:
        order = session.scalar(select(Order).where(Order.number == number))
        return _order_dict(order) if order else {"found": False, "number": number}


def orders_by_phone(db: Database, phone: str) -> dict:
    """All orders of the customer with this phone number, newest first."""
    with db.session() as session:
        customer = session.scalar(select(Customer).where(Customer.phone == normalise_phone(phone)))
        if customer is None:
            return {"found": False, "count": 0, "orders": []}
        orders = sorted(customer.orders, key=lambda o: o.placed_at, reverse=True)
        return {"found": bool(orders), "count": len(orders), "orders": [_order_dict(o) for o in orders]}


def recommendations(db: Database, phone: str, limit: int = 2) -> dict:
    """Items other customers bought in the categories this caller bought from, that the caller
    does not own yet. ``found`` is False (and ``items`` are best sellers) for unknown callers or
    callers without a match. ``items`` is a phrase ready to speak ("a and b")."""
    with db.session() as session:
        all_orders = session.scalars(select(Order)).all()
        customer = session.scalar(select(Customer).where(Customer.phone == normalise_phone(phone)))
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
