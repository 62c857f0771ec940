"""The transfer context an agent opens: built (purely) from what the call knew, stored through
the calls repository in a real SQLite database, reloaded, and cut down to SIP-sized parameters."""
from __future__ import annotations

import pytest

from voicebot.actions import Transfer
from voicebot.errors import StorageError
from voicebot.handoff.context import TranscriptLine, build_context, sip_parameters
from voicebot.storage import calls
from voicebot.storage.customers import customer_by_phone
from voicebot.storage.db import Database
from voicebot.storage.tables import Call


@pytest.fixture()
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    database.create_all()
    return database


def _lines(*pairs):
    return [TranscriptLine(speaker, text, intent, f"2026-11-30T10:00:0{i}+00:00") for i, (speaker, text, intent) in enumerate(pairs)]


def test_transfer_context_is_saved_and_reloaded(db):
    from voicebot.nlu.base import Understanding

    with db.session() as s:
        s.add(Call(call_sid="CA123", caller="+15550001111"))
    transfer = Transfer("+15550100000", "agent_requested", {"slots": {"order_number": "4172"}, "frustration": 0.8, "emotion": "angry"})
    u = Understanding("I want an agent", intent="agent", confidence=0.91, emotion="angry", frustration=0.8)
    transcript = _lines(("bot", "How can I help?", None), ("caller", "where is my order", "order_status"),
                        ("bot", "Please say your order number.", None), ("caller", "I want an agent", "agent"))
    context = build_context(transfer, call_sid="CA123", caller="+15550001111", transcript=transcript, understanding=u,
                            customer={"name": "Dana"})
    assert context["intent"] == "agent" and context["slots"] == {"order_number": "4172"}
    assert "caller: I want an agent" in context["transcript_summary"]
    # the live transfer keeps every line with its speaker, text, intent and time
    assert context["transcript"][1] == {"speaker": "caller", "text": "where is my order", "intent": "order_status",
                                        "at": "2026-11-30T10:00:01+00:00"}
    record_id = calls.save_transfer(db, "CA123", transfer.destination, transfer.reason, context)
    loaded = calls.load_transfer(db, record_id)["context"]
    assert loaded["reason"] == "agent_requested" and loaded["frustration"] == 0.8 and loaded["customer"]["name"] == "Dana"
    assert loaded["transcript"] == context["transcript"]
    with db.session() as s:
        assert s.query(Call).filter_by(call_sid="CA123").one().outcome == "transferred"
    params = sip_parameters(context)
    assert params["reason"] == "agent_requested" and params["customer"] == "Dana"
    assert all(len(v) <= 64 for v in params.values())


def test_transfer_for_unknown_call_is_a_storage_error(db):
    with pytest.raises(StorageError, match="no call CA-missing"):
        calls.save_transfer(db, "CA-missing", "x", "y", {})


def test_customer_is_found_by_phone_number_in_any_format(db):
    from voicebot.storage.seed import seed_demo

    seed_demo(db)
    assert customer_by_phone(db, "+15550001111")["name"] == "Ana Lopez"
    assert customer_by_phone(db, "(555) 000-1111")["name"] == "Ana Lopez"  # one phone normalisation everywhere
    assert customer_by_phone(db, "+19999999999")["found"] is False and customer_by_phone(db, "")["found"] is False


def test_flow_facts_win_and_values_are_json_safe():
    transfer = Transfer("agent", "billing_question", {"intent": "billing", "slots": {"when": object()}, "note": "from the flow"})
    context = build_context(transfer, call_sid="CA1", transcript=_lines(("bot", "Hi", None), ("caller", "", None)))
    assert context["intent"] == "billing" and context["note"] == "from the flow"
    assert isinstance(context["slots"]["when"], str)
    assert context["transcript_summary"] == "bot: Hi" and context["summary"] == "Transferred (billing_question) about billing."
    no_topic = build_context(Transfer("agent", "x"), call_sid="CA1")
    assert no_topic["intent"] is None and no_topic["summary"] == "Transferred (x) about unknown topic."
