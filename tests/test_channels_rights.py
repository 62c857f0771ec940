"""Data rights over the text channels' history: export, erase (the SMS opt-out outlives it) and
retention, on an encrypted SQLite database written by the real storage functions."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest

from voicebot.storage import conversations as history
from voicebot.storage.conversation_rights import erase_conversations, export_conversations, purge_conversations


@pytest.fixture()
def db(tmp_path):
    from tests.dialogue_driver import seeded_database

    return seeded_database(tmp_path)


def texted(db, phone: str, *lines: str) -> str:
    public_id = secrets.token_urlsafe(16)
    history.open_conversation(db, public_id, "sms", kind="phone", address=phone)
    for line in lines:
        history.add_message(db, public_id, "customer", line)
    return public_id


def test_export_and_erase_cover_a_numbers_conversations_and_keep_its_opt_out(db):
    mine = texted(db, "+15550004242", "my order is late", "it is 4172")
    history.add_attachment(db, mine, "image/png", b"\x89PNG\r\n\x1a\n...")
    other = texted(db, "+15550005353", "hello")
    history.set_opt_out(db, "sms", "phone", "+15550004242", True)
    exported = export_conversations(db, "(555) 000-4242")
    assert [(c["id"], [m["text"] for m in c["messages"]]) for c in exported] == [(mine, ["my order is late", "it is 4172"])]
    assert erase_conversations(db, "+15550004242") == {"conversations": 1, "messages": 2, "attachments": 1}
    assert export_conversations(db, "+15550004242") == [] and history.load(db, mine) is None
    assert history.load(db, other) is not None
    assert history.is_opted_out(db, "sms", "phone", "+15550004242")  # STOP outlives an erasure
    assert erase_conversations(db, "+15550004242") == {"conversations": 0, "messages": 0, "attachments": 0}


def test_purge_deletes_lines_then_conversations_after_their_periods(db):
    kept = texted(db, "+15550006464", "recent words")
    later = datetime.now(timezone.utc) + timedelta(days=40)
    assert purge_conversations(db, {"transcripts": 30, "calls": 365}, now=later) == {
        "conversations": 0, "messages": 1, "attachments": 0}
    assert history.messages(db, kept) == [] and history.load(db, kept) is not None
    assert purge_conversations(db, {"transcripts": 0, "calls": 30}, now=later)["conversations"] >= 1
    assert history.load(db, kept) is None
    assert purge_conversations(db, {"transcripts": 0, "calls": 0}, now=later) == dict.fromkeys(
        ("conversations", "messages", "attachments"), 0)
