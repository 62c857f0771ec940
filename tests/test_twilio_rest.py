"""Transfer and hang-up through the twilio library's REST client against the local stand-in,
the transfer record an agent opens, and REST failures as one-line errors."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from conftest import ACCOUNT_SID, AUTH_TOKEN, StreamClient, answer_call, make_settings, wait_for

from voicebot.errors import TelephonyError
from voicebot.handoff.context import Handoff
from voicebot.storage import calls
from voicebot.telephony.twilio.rest import TwilioRest


@pytest.fixture
def rest(echo_server):
    return TwilioRest(echo_server.state.settings)


def _updates_for(standin, call_sid):
    return [u for u in standin.updates if u.call_sid == call_sid]


def test_transfer_updates_the_live_call_with_dial_twiml_and_saves_the_context(echo_server, rest):
    call_sid, _, _ = answer_call(echo_server.url)
    context = {"intent": "billing", "summary": "caller disputes a charge", "frustration": 0.8}
    transfer_id = calls.save_transfer(echo_server.state.db, call_sid, "+15550100000", "caller asked for an agent", context)
    rest.transfer(call_sid, Handoff("+15550100000", "caller asked for an agent", context, transfer_id))
    [update] = _updates_for(echo_server.standin, call_sid)
    assert update.account_sid == ACCOUNT_SID and update.status_code == 200
    dial = ET.fromstring(update.params["Twiml"]).find("Dial/Number")
    assert dial.text == "+15550100000"
    call = calls.get_call(echo_server.state.db, call_sid)
    assert call.outcome == "transferred"
    record = requests.get(f"{echo_server.url}/agent/transfers/{transfer_id}", timeout=5).json()
    assert record["context"] == context and record["reason"] == "caller asked for an agent"
    assert record["call_sid"] == call_sid and record["destination"] == "+15550100000"
    page = requests.get(f"{echo_server.url}/agent/transfers/{transfer_id}/view", timeout=5)
    assert page.status_code == 200 and "caller disputes a charge" in page.text
    listed = requests.get(f"{echo_server.url}/agent/transfers", params={"call_sid": call_sid}, timeout=5).json()
    assert [r["id"] for r in listed] == [transfer_id]


def test_sip_transfer_carries_context_as_sip_headers(echo_server, rest):
    call_sid, _, _ = answer_call(echo_server.url)
    transfer_id = calls.save_transfer(echo_server.state.db, call_sid, "sip:agents@pbx.example.com", "frustrated", {"intent": "returns"})
    rest.transfer(call_sid, Handoff("sip:agents@pbx.example.com", "frustrated", {"intent": "returns"}, transfer_id))
    [update] = _updates_for(echo_server.standin, call_sid)
    sip = ET.fromstring(update.params["Twiml"]).find("Dial/Sip").text
    assert sip == f"sip:agents@pbx.example.com?X-Voicebot-Reason=frustrated&X-Voicebot-Transfer-Id={transfer_id}&X-Voicebot-Intent=returns"


def test_the_rest_client_never_writes_the_database(echo_server, rest):
    """One owner for transfer records (the session, through storage.calls): a REST transfer only
    talks to Twilio, with or without a stored record."""
    call_sid, _, _ = answer_call(echo_server.url)
    saved = calls.save_transfer(echo_server.state.db, call_sid, "+15550100000", "agent", {"k": "v"})
    rest.transfer(call_sid, Handoff("+15550100000", "agent", {"k": "v"}, saved))
    rest.transfer(call_sid, Handoff("+15550100000", "agent", {"k": "v"}, None))
    listed = requests.get(f"{echo_server.url}/agent/transfers", params={"call_sid": call_sid}, timeout=5).json()
    assert [r["id"] for r in listed] == [saved]
    assert len(_updates_for(echo_server.standin, call_sid)) == 2


def test_hangup_sets_status_completed(echo_server, rest):
    call_sid, _, _ = answer_call(echo_server.url)
    rest.hangup(call_sid)
    [update] = _updates_for(echo_server.standin, call_sid)
    assert update.params == {"Status": "completed"}


def test_rest_failures_are_one_line_telephony_errors(echo_server, rest, tmp_path):
    call_sid, _, _ = answer_call(echo_server.url)
    echo_server.standin.fail_next(500, 20500, "Internal Server Error")
    with pytest.raises(TelephonyError, match="REST update of call .* failed") as error:
        rest.hangup(call_sid)
    assert "\n" not in str(error.value)
    bad_auth = TwilioRest(make_settings(tmp_path, echo_server.standin.url).model_copy(update={"twilio_auth_token": "wrong"}))
    with pytest.raises(TelephonyError, match="failed"):
        bad_auth.hangup(call_sid)
    unreachable = TwilioRest(make_settings(tmp_path, "http://127.0.0.1:9"), timeout_s=2)
    with pytest.raises(TelephonyError, match="unreachable"):
        unreachable.hangup(call_sid)


def test_transfer_of_an_unknown_call_is_a_telephony_error(tmp_path):
    from voicebot.testing.rest_standin import RestStandin

    standin = RestStandin(ACCOUNT_SID, AUTH_TOKEN)
    standin.known_calls = set()  # Twilio answers 404 for a CallSid it does not know
    try:
        rest = TwilioRest(make_settings(tmp_path, standin.url))
        with pytest.raises(TelephonyError, match="REST update of call CAf+ failed: .*not found"):
            rest.transfer("CA" + "f" * 32, Handoff("+15550100000", "agent"))
    finally:
        standin.stop()


def test_unknown_transfer_record_is_404(echo_server):
    assert requests.get(f"{echo_server.url}/agent/transfers/999999", timeout=5).status_code == 404


def test_keypress_in_a_live_stream_transfers_over_rest_then_the_stream_ends(echo_server):
    call_sid, url, params = answer_call(echo_server.url)
    client = StreamClient(url)
    client.start(call_sid, params)
    assert wait_for(lambda: call_sid in echo_server.sessions)
    client.send("dtmf", dtmf={"digit": "0"})  # EchoSession: 0 -> transfer
    assert wait_for(lambda: _updates_for(echo_server.standin, call_sid), timeout=5)
    [update] = _updates_for(echo_server.standin, call_sid)
    assert "<Dial><Number>+15550100000</Number></Dial>" in update.params["Twiml"]
    # Twilio would stop the stream now; this client does not, so the server closes it itself
    assert client.closed_by_server(timeout=5)
    marks = [m["mark"]["name"] for m in client.received if m["event"] == "mark"]
    assert marks[-1] == "transfer"  # "connecting you" played before the REST update
    assert calls.get_call(echo_server.state.db, call_sid).outcome == "transferred"
    assert echo_server.sessions[call_sid].stopped is not None
    client.close()


def test_standin_rejects_wrong_credentials():
    from voicebot.testing.rest_standin import RestStandin

    standin = RestStandin(ACCOUNT_SID, AUTH_TOKEN)
    try:
        url = f"{standin.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/CA{'0' * 32}.json"
        assert requests.post(url, data={"Status": "completed"}, auth=(ACCOUNT_SID, "nope"), timeout=5).status_code == 401
        ok = requests.post(url, data={"Status": "completed"}, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
        assert ok.status_code == 200 and ok.json()["status"] == "completed"
    finally:
        standin.stop()


def test_a_failed_rest_transfer_ends_the_stream_instead_of_leaving_silence(echo_server, caplog):
    import logging

    call_sid, url, params = answer_call(echo_server.url)
    client = StreamClient(url)
    client.start(call_sid, params)
    assert wait_for(lambda: call_sid in echo_server.sessions)
    echo_server.standin.fail_next(503, 20503, "Service Unavailable")
    with caplog.at_level(logging.ERROR):
        client.send("dtmf", dtmf={"digit": "0"})
        assert client.closed_by_server(timeout=6)
    assert any(call_sid in r.getMessage() and "transfer failed" in r.getMessage() for r in caplog.records)
    assert [u.status_code for u in _updates_for(echo_server.standin, call_sid)] == [503]
    client.close()
