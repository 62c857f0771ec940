"""Consent to recording and transcription (the flow language's ``consent`` node), on the real
conversation code and a real database: the example flow's conversation tests (both answers,
silence), a declined call that keeps only its id, times and outcome, a granted call that keeps
everything said from the greeting on, the decision remembered by phone, and the validator."""
from __future__ import annotations

import secrets

import pytest
from dialogue_driver import FLOWS, RECORDED_LINE, TextCall, seeded_database, understander_for
from sqlalchemy import select

from voicebot.errors import FlowError
from voicebot.flows.loader import load_flow_text
from voicebot.storage import calls
from voicebot.storage.consent import remembered_consent
from voicebot.storage.tables import Call, TransferRecord, Turn
from voicebot.testing.scenarios import load_scenarios

SCENARIOS = FLOWS / "examples" / "tests" / "recorded_line.yaml"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    database = seeded_database(tmp_path_factory.mktemp("consent"))
    yield database
    database.engine.dispose()


@pytest.fixture(scope="module")
def understander():
    return understander_for(RECORDED_LINE)


def _phone() -> str:
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


def _start(db, understander, phone: str) -> TextCall:
    return TextCall.start(RECORDED_LINE, understander, db, phone, "CA" + secrets.token_hex(16))


def _rows(db, call_sid: str):
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        turns = s.scalars(select(Turn).where(Turn.call_id == call.id)).all()
        transfers = s.scalars(select(TransferRecord).where(TransferRecord.call_id == call.id)).all()
        return call, turns, transfers


@pytest.mark.parametrize("index", range(4))
def test_the_example_flows_conversation_tests(db, understander, index):
    from voicebot.session.datasources import DataSources
    from voicebot.testing.conversations import ConversationRunner

    flow, scenarios = load_scenarios(SCENARIOS)
    result = ConversationRunner(understander, DataSources.for_flow(flow, db)).run(flow, scenarios[index], str(SCENARIOS),
                                                                                   SCENARIOS.parent)
    assert result.passed, "\n" + result.report()


def test_a_caller_who_declines_is_served_and_only_the_minimum_is_stored(db, understander):
    phone = _phone()
    call = _start(db, understander, phone)
    call.say("no thanks")
    assert call.dialogue.state.variables["consent"] is False
    assert any("nothing from this call will be recorded" in text for text in call.said)
    call.say("where is my order 5093")  # still served
    assert any("5 0 9 3 is processing" in text for text in call.said) and call.ended
    call.hang_up()
    row, turns, transfers = _rows(db, call.dialogue.call_sid)
    assert turns == [] and transfers == []
    assert (row.caller, row.called, row.caller_hash, row.consent) == ("", "", None, "declined")
    assert row.started_at and row.ended_at and row.outcome == "contained" and row.duration_s is not None
    calls.note_stream_ended(db, call.dialogue.call_sid, "hangup")  # the channel's end-of-stream line is not kept either
    assert _rows(db, call.dialogue.call_sid)[1] == []
    assert remembered_consent(db, phone) is False


def test_a_declined_caller_still_reaches_an_agent_with_nothing_stored(db, understander):
    call = _start(db, understander, _phone())
    call.press("2")  # no
    call.say("I want to talk to a person")
    assert call.handoff is not None and call.handoff.record_id is None
    assert call.handoff.context["reason"] == "agent_requested"  # the agent still gets the context, live
    row, turns, transfers = _rows(db, call.dialogue.call_sid)
    assert (turns, transfers, row.outcome) == ([], [], "transferred")


def test_a_caller_who_consents_has_the_whole_call_kept_from_the_greeting_on(db, understander):
    phone = _phone()
    call = _start(db, understander, phone)
    call.say("yes")
    call.say("where is my order 6604")
    call.hang_up()
    stored = calls.load_call(db, call.dialogue.call_sid)
    lines = [(t["speaker"], t["text"]) for t in stored["transcript"]]
    assert lines[0][0] == "bot" and "recorded and transcribed" in lines[0][1]  # waited in memory, written on "yes"
    assert ("caller", "yes") in lines and ("caller", "where is my order 6604") in lines
    assert stored["consent"] == "granted" and stored["caller"] == phone
    assert remembered_consent(db, phone) is True


def test_the_decision_is_remembered_for_the_callers_next_call(db, understander):
    phone = _phone()
    first = _start(db, understander, phone)
    first.press("2")
    first.hang_up()
    second = _start(db, understander, phone)
    assert "recorded" not in second.said[0] and "order number" in second.said[0]  # not asked again
    assert second.dialogue.state.variables["consent"] is False
    second.say("order 5093")
    second.hang_up()
    assert _rows(db, second.dialogue.call_sid)[1] == []  # and nothing kept again
    other = _start(db, understander, _phone())  # another caller is asked
    assert "recorded and transcribed" in other.said[0]


def test_a_caller_who_hangs_up_before_answering_leaves_only_the_minimum(db, understander):
    phone = _phone()
    call = _start(db, understander, phone)
    call.hang_up()
    row, turns, _ = _rows(db, call.dialogue.call_sid)
    assert turns == [] and row.caller == "" and row.consent == "declined"
    assert remembered_consent(db, phone) is None  # no decision to remember: asked next time


ANNOUNCE = """
name: announce
start: notice
nodes:
  notice:
    type: consent
    ask: {ask}
    text: This call is recorded.
    {extra}
    next: bye
  bye:
    type: hangup
"""


def test_an_announcement_counts_as_consent_and_the_validator_checks_targets(db, understander):
    flow = load_flow_text(ANNOUNCE.format(ask="false", extra=""))
    call = TextCall.start(flow, understander, db, _phone(), "CA" + secrets.token_hex(16))
    assert call.said[0] == "This call is recorded." and call.dialogue.state.variables["consent"] is True
    assert [t["text"] for t in calls.load_call(db, call.dialogue.call_sid)["transcript"]][0] == "This call is recorded."
    with pytest.raises(FlowError, match="unknown node 'nowhere'"):
        load_flow_text(ANNOUNCE.format(ask="true", extra="on_decline: nowhere"))
    with pytest.raises(FlowError, match="text"):
        load_flow_text(ANNOUNCE.format(ask="true", extra="").replace("    text: This call is recorded.\n", ""))
