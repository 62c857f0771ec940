"""Voice and status webhooks, signatures, TwiML, health, metrics and the start page, through a
real server on a random port."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from conftest import ACCOUNT_SID, AUTH_TOKEN, answer_call, new_call_sid, signed_post

from voicebot.errors import TelephonyError
from voicebot.storage import calls
from voicebot.telephony.twilio.twiml import transfer_twiml
from voicebot.testing.live_server import LiveServer


def _voice_params(call_sid: str) -> dict:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+15551234567", "To": "+15557654321",
            "CallStatus": "ringing", "Direction": "inbound"}


def test_signed_voice_webhook_creates_call_and_answers_stream_twiml(echo_server):
    call_sid = new_call_sid()
    response = signed_post(echo_server.url, "/twilio/voice", _voice_params(call_sid))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    stream = ET.fromstring(response.text).find("Connect/Stream")
    host = echo_server.url.removeprefix("http://")
    assert stream.get("url") == f"ws://{host}/twilio/media"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert len(params["token"]) >= 24 and params["caller"] == "+15551234567"
    call = calls.get_call(echo_server.state.db, call_sid)
    assert call.stream_token == params["token"] and not call.token_used
    assert (call.caller, call.called, call.status) == ("+15551234567", "+15557654321", "ringing")


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}])
def test_unsigned_or_missigned_voice_webhook_is_403_and_stores_nothing(echo_server, headers):
    call_sid = new_call_sid()
    response = requests.post(echo_server.url + "/twilio/voice", data=_voice_params(call_sid), headers=headers, timeout=5)
    assert response.status_code == 403
    assert "Connect" not in response.text
    assert calls.get_call(echo_server.state.db, call_sid) is None


def test_signature_with_another_auth_token_or_tampered_params_is_403(echo_server):
    call_sid = new_call_sid()
    assert signed_post(echo_server.url, "/twilio/voice", _voice_params(call_sid), token="someone-elses-token").status_code == 403
    from voicebot.security.signatures import sign

    url = echo_server.url + "/twilio/voice"
    params = _voice_params(call_sid)
    signature = sign(url, params, AUTH_TOKEN)
    tampered = dict(params, From="+19999999999")
    response = requests.post(url, data=tampered, headers={"X-Twilio-Signature": signature}, timeout=5)
    assert response.status_code == 403
    assert calls.get_call(echo_server.state.db, call_sid) is None


def test_public_url_is_what_signatures_and_stream_url_use(echo_app_factory):
    app, _ = echo_app_factory(public_url="https://bot.example.com/ivr")
    with LiveServer(app) as server:
        call_sid = new_call_sid()
        # Twilio signs the public URL; the request reaches us on 127.0.0.1 through a proxy.
        ok = signed_post(server.url, "/twilio/voice", _voice_params(call_sid), signed_url="https://bot.example.com/ivr/twilio/voice")
        assert ok.status_code == 200
        stream = ET.fromstring(ok.text).find("Connect/Stream")
        assert stream.get("url") == "wss://bot.example.com/ivr/twilio/media"
        # a signature over the local URL is not what Twilio would send: rejected
        other = new_call_sid()
        assert signed_post(server.url, "/twilio/voice", _voice_params(other)).status_code == 403
        assert calls.get_call(app.extensions["voicebot"].db, other) is None


def test_voice_webhook_without_callsid_is_400(echo_server):
    params = _voice_params("")
    del params["CallSid"]
    assert signed_post(echo_server.url, "/twilio/voice", params).status_code == 400


def test_a_retried_webhook_issues_a_new_token_and_the_old_one_stops_working(echo_server):
    call_sid, _, first = answer_call(echo_server.url)
    _, _, second = answer_call(echo_server.url, call_sid)
    assert first["token"] != second["token"]
    with pytest.raises(TelephonyError):
        calls.claim_stream_token(echo_server.state.db, call_sid, first["token"])
    calls.claim_stream_token(echo_server.state.db, call_sid, second["token"])


def test_status_callback_records_how_the_call_ended(echo_server):
    call_sid, _, _ = answer_call(echo_server.url)
    unsigned = requests.post(echo_server.url + "/twilio/status", data={"CallSid": call_sid, "CallStatus": "completed"}, timeout=5)
    assert unsigned.status_code == 403
    assert calls.get_call(echo_server.state.db, call_sid).status == "ringing"
    response = signed_post(echo_server.url, "/twilio/status", {"CallSid": call_sid, "AccountSid": ACCOUNT_SID,
                                                               "CallStatus": "completed", "CallDuration": "42"})
    assert response.status_code == 204
    call = calls.get_call(echo_server.state.db, call_sid)
    assert (call.status, call.duration_s, call.outcome) == ("completed", 42.0, "contained")
    assert call.ended_at is not None


def test_status_callback_for_a_missed_call_marks_it_abandoned(echo_server):
    call_sid, _, _ = answer_call(echo_server.url)
    signed_post(echo_server.url, "/twilio/status", {"CallSid": call_sid, "CallStatus": "no-answer"})
    assert calls.get_call(echo_server.state.db, call_sid).outcome == "abandoned"


def test_healthz_is_503_until_models_are_loaded(echo_server):
    state = echo_server.state
    state.ready.clear()
    try:
        response = requests.get(echo_server.url + "/healthz", timeout=5)
        assert response.status_code == 503 and response.json() == {"status": "loading", "models_loaded": False}
        # a call arriving now hears an apology and is hung up, instead of silence
        twiml = ET.fromstring(signed_post(echo_server.url, "/twilio/voice", _voice_params(new_call_sid())).text)
        assert twiml.find("Connect") is None and twiml.find("Hangup") is not None
        assert "not available" in twiml.find("Say").text
    finally:
        state.ready.set()
    response = requests.get(echo_server.url + "/healthz", timeout=5)
    assert response.status_code == 200 and response.json()["models_loaded"] is True


def test_healthz_reports_a_failed_model_load(tmp_path, rest_standin):
    from conftest import make_settings

    from voicebot.web.app import create_app

    # a flow file that does not exist makes the real pipeline fail to load
    app = create_app(make_settings(tmp_path, rest_standin.url, flow_path=str(tmp_path / "missing.yaml")))
    state = app.extensions["voicebot"]
    with LiveServer(app) as server:
        for _ in range(600):
            if state.load_error or state.ready.is_set():
                break
            state.ready.wait(0.1)
        response = requests.get(server.url + "/healthz", timeout=5)
    assert response.status_code == 503
    assert response.json()["status"] == "error" and "missing.yaml" in response.json()["error"]


def test_metrics_and_start_page(echo_server):
    signed_post(echo_server.url, "/twilio/voice", _voice_params(new_call_sid()), token="wrong")
    metrics = requests.get(echo_server.url + "/metrics", timeout=5)
    assert metrics.status_code == 200
    for name in ("voicebot_calls_active", "voicebot_calls_total", "voicebot_turn_latency_seconds", "voicebot_errors_total"):
        assert name in metrics.text
    assert 'voicebot_webhooks_total{outcome="forbidden",route="voice"}' in metrics.text
    page = requests.get(echo_server.url + "/", timeout=5).text
    assert f"{echo_server.url}/twilio/voice" in page and f"{echo_server.url}/twilio/status" in page


def test_transfer_twiml_per_destination_kind():
    number = ET.fromstring(transfer_twiml("+15550100000", {"reason": "agent"}))
    assert number.find("Dial/Number").text == "+15550100000"
    sip = ET.fromstring(transfer_twiml("sip:agent@pbx.example.com", {"reason": "caller asked", "transfer_id": 7}))
    assert sip.find("Dial/Sip").text == "sip:agent@pbx.example.com?X-Voicebot-Reason=caller%20asked&X-Voicebot-Transfer-Id=7"
    client = ET.fromstring(transfer_twiml("client:alice", {"reason": "billing"}))
    assert client.find("Dial/Client/Identity").text == "alice"
    assert client.find("Dial/Client/Parameter").attrib == {"name": "reason", "value": "billing"}
    assert ET.fromstring(transfer_twiml("queue:support")).find("Enqueue").text == "support"
    with pytest.raises(TelephonyError, match="cannot transfer"):
        transfer_twiml("not a number")
