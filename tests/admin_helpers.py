"""Helpers for the admin console tests: users with known passwords, logging in through the form."""
from __future__ import annotations

import re

from voicebot.security.passwords import PasswordHasher
from voicebot.storage import admin as store

PASSWORD = "correct horse battery"
_HASH = PasswordHasher().hash(PASSWORD)  # hashed once: argon2id is slow on purpose


def add_users(db, *roles: str) -> None:
    """One user per role, named after it, all with ``PASSWORD``."""
    for role in roles:
        if store.get_user(db, role) is None:
            store.create_user(db, role, _HASH, role)


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, name: str, password: str = PASSWORD):
    """Log ``client`` (a Flask test client) in through the form; the POST's response."""
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"username": name, "password": password, "csrf_token": token})


# A small valid flow for console tests (two intents, four nodes).
FLOW = """name: tiny
start: menu
intents:
  billing: [billing, a question about my bill, my invoice, I was charged twice]
  store_hours: [store hours, when are you open, opening times, what time do you open]
nodes:
  menu:
    type: menu
    prompt: Say billing or store hours.
    options:
      - {intent: billing, goto: billing}
      - {intent: store_hours, goto: hours}
  billing:
    type: say
    text: Billing is open nine to five.
    next: bye
  hours:
    type: say
    text: We open at ten.
    next: bye
  bye:
    type: hangup
    text: Goodbye.
"""
