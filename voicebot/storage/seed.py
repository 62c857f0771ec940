"""The demo database: a few customers with phone numbers and their orders.

``seed_demo(db)`` is idempotent (rows are matched by phone / order number and updated), so it
is safe at every start-up. Facts the demo flow and its conversation tests rely on: order 4172
has shipped and arrives Thursday, order 5093 is processing, order 9999 does not exist, and
+15550001111 is Ana, a returning customer with past electronics purchases; +15550004444 is Dana,
who has a postcode on file (94107, born 1985-03-14) and a blender that shipped on Tuesday
2026-11-24 (so the demo verifies her before reading it out); +15550005555 is a household line
shared by Eve and Frank (served generically: the caller cannot be told apart). The demo customers
come back at every start (so erasing one of them lasts until the next start).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from voicebot.storage.customers import customers_with_phone
from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.phones import phone_hash
from voicebot.storage.tables import Customer, Order

CUSTOMERS = [
    {"phone": "+15550001111", "name": "Ana Lopez", "email": "ana@example.com", "tier": "gold"},
    {"phone": "+15550002222", "name": "Ben Carter", "email": "ben@example.com", "tier": "standard"},
    {"phone": "+15550003333", "name": "Chloe Nguyen", "email": "chloe@example.com", "tier": "standard"},
    {"phone": "+15550004444", "name": "Dana Whitfield", "email": "dana.w@example.com", "tier": "gold",
     "postcode": "94107", "birth_date": "1985-03-14", "preferences": {"marketing": True}},
    {"phone": "+15550005555", "name": "Eve Moreau", "email": "eve@example.com", "tier": "standard"},
    {"phone": "+15550005555", "name": "Frank Moreau", "email": "frank@example.com", "tier": "standard"},
]

ORDERS = [  # (number, customer phone, status, item, category, total, eta, placed on)
    ("4172", "+15550001111", "shipped", "Wireless headphones", "electronics", 89.99, "Thursday", "2026-11-18"),
    ("3381", "+15550001111", "delivered", "Phone case", "electronics", 19.50, "", "2026-10-02"),
    ("5093", "+15550002222", "processing", "Running shoes", "sportswear", 74.00, "It ships in two days.", "2026-11-22"),
    ("1205", "+15550002222", "delivered", "Water bottle", "sportswear", 12.00, "", "2026-09-14"),
    ("7720", "+15550002222", "delivered", "USB-C charger", "electronics", 25.00, "", "2026-08-30"),
    ("2710", "+15550003333", "delivered", "Yoga mat", "sportswear", 35.00, "", "2026-10-20"),
    ("6604", "+15550003333", "shipped", "Bluetooth speaker", "electronics", 59.00, "Monday", "2026-11-20"),
    ("6605", "+15550003333", "delivered", "USB-C charger", "electronics", 25.00, "", "2026-11-01"),
    ("9120", "+15550004444", "shipped", "Blender", "kitchen", 79.00, "Friday", "2026-11-21"),
    ("8830", "+15550004444", "delivered", "Coffee grinder", "kitchen", 45.00, "", "2026-10-05"),
    ("8412", "+15550004444", "delivered", "Kettle", "kitchen", 30.00, "", "2026-06-10"),
    ("8415", "+15550005555", "delivered", "Toaster", "kitchen", 28.00, "", "2026-09-01"),
]
SHIPPED = {"9120": "2026-11-24"}  # order number -> the day it shipped (a Tuesday)
MISSING_ORDER = "9999"  # never seeded: the "wrong order number" path


def seed_demo(db: Database) -> None:
    """Create the schema if needed and insert or update the demo customers and orders."""
    db.create_all()
    with db.session() as session:
        by_phone = {}
        for row in CUSTOMERS:
            customer = next((c for c in customers_with_phone(session, db, row["phone"]) if readable(c.name, "") == row["name"]),
                            None)
            if customer is None:
                customer = Customer(**row)
                session.add(customer)
            else:
                for key, value in row.items():
                    setattr(customer, key, value)
            customer.phone_hash = phone_hash(db, row["phone"])
            by_phone.setdefault(row["phone"], customer)  # a shared line's orders belong to its first customer
        session.flush()
        for number, phone, status, item, category, total, eta, placed in ORDERS:
            order = session.scalar(select(Order).where(Order.number == number))
            if order is None:
                order = Order(number=number)
                session.add(order)
            order.customer_id = by_phone[phone].id
            order.status, order.item, order.category, order.total, order.eta = status, item, category, total, eta
            order.placed_at = datetime.fromisoformat(placed).replace(tzinfo=timezone.utc)
            shipped = SHIPPED.get(number)
            order.shipped_at = datetime.fromisoformat(shipped).replace(tzinfo=timezone.utc) if shipped else None
        stray = session.scalar(select(Order).where(Order.number == MISSING_ORDER))
        if stray is not None:
            session.delete(stray)
