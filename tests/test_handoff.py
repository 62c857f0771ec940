"""The transfer context an agent opens: built from what the call knew, stored in a real SQLite
database, reloaded, and cut down to SIP-sized parameters."""
from __future__ import annotations

import pytest

from voicebot.actions import Transfer
from voicebot.errors import StorageError
from voicebot.handoff.context import build_context, find_customer, load_transfer, save_transfer, sip_parameters
from voicebot.storage.db import Database
from voicebot.storage.tables import Call


@pytest.fixture()
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    database.create_all()
    return database


def test_transfer_context_is_saved_and_reloaded(db):
    from voicebot.nlu.base import Understanding

    with db.session() as s:
        s.add(Call(call_sid="CA123", caller="+15550001111"))
    transfer = Transfer("+15550100000", "agent_requested", {"slots": {"order_number": "4172"}})
    u = Understanding("I want an agent", intent="agent", confidence=0.91, emotion="angry", frustration=0.8)
    transcript = [("bot", "How can I help?"), ("caller", "where is my order"), ("bot", "Please say your order number."), ("caller", "I want an agent")]
    context = build_context(transfer, call_sid="CA123", caller="+15550001111", transcript=transcript, understanding=u,
                            frustration=0.8, emotion="angry", customer={"name": "Dana"})
    assert context["intent"] == "agent" and context["slots"] == {"order_number": "4172"}
    assert "caller: I want an agent" in context["transcript_summary"]
    record_id = save_transfer(db, "CA123", transfer, context)
    loaded = load_transfer(db, record_id)
    assert loaded["reason"] == "agent_requested" and loaded["frustration"] == 0.8 and loaded["customer"]["name"] == "Dana"
    with db.session() as s:
        assert s.query(Call).filter_by(call_sid="CA123").one().outcome == "transferred"
    params = sip_parameters(context)
    assert params["reason"] == "agent_requested" and params["customer"] == "Dana"
    assert all(len(v) <= 64 for v in params.values())


def test_transfer_for_unknown_call_is_a_storage_error(db):
    with pytest.raises(StorageError, match="no call CA-missing"):
        save_transfer(db, "CA-missing", Transfer("x", "y"), {})



def test_customer_is_found_by_phone_number(db):
    from voicebot.storage.seed import seed_demo

    seed_demo(db)
    assert find_customer(db, "+15550001111")["name"] == "Ana Lopez"
    assert find_customer(db, "+19999999999") is None and find_customer(db, "") is None


def test_flow_context_wins_and_values_are_json_safe():
    transfer = Transfer("agent", "billing_question", {"summary": "from the flow", "slots": {"when": object()}})
    context = build_context(transfer, call_sid="CA1", transcript=[("bot", "Hi"), ("caller", "")])
    assert context["summary"] == "from the flow"
    assert isinstance(context["slots"]["when"], str)
    assert context["transcript_summary"] == "bot: Hi" and context["intent"] is None
