"""Property-based tests of every HTTP endpoint that takes input, on the real app (in process,
real SQLite): any form, body, header or path gets a deliberate answer (never a 500), signed
or not; the security headers are always there; an unsigned webhook never stores anything."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote

import fuzz_settings  # noqa: F401  (loads the bounded CI profile)
import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN, make_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from voicebot.security.signatures import sign
from voicebot.storage import calls

# text a form can carry (no lone surrogates: they cannot be encoded at all)
form_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
keys = st.sampled_from(["CallSid", "AccountSid", "From", "To", "CallStatus", "CallDuration", "SequenceNumber",
                        "Timestamp", "Direction", "Caller"]) | form_text
call_sids = st.one_of(st.just("CA" + "0" * 32), st.from_regex(r"CA[0-9a-f]{32}", fullmatch=True), form_text)
forms = st.dictionaries(keys, form_text, max_size=8)
fixed = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from voicebot.testing.echo_session import EchoSession
    from voicebot.web.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("fuzz-http"), "http://127.0.0.1:9"), session_factory=EchoSession)
    return app.test_client()


def _deliberate(response, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.get_data(as_text=True)[:200])
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", "")


def _signed(client, path: str, form: dict):
    signature = sign(f"http://localhost{path}", form, AUTH_TOKEN)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


@fixed
@given(form=forms, call_sid=call_sids)
@example(form={"SequenceNumber": "-1", "CallStatus": "completed"}, call_sid="CA" + "0" * 32)
@example(form={"Timestamp": "Tue, 31 Feb 2026 99:99:99 +9999", "CallStatus": "busy"}, call_sid="CA" + "0" * 32)
@example(form={"CallDuration": "nan", "CallStatus": "completed"}, call_sid="CA" + "0" * 32)
@example(form={"From": "\x08"}, call_sid="CA" + "1" * 32)  # a control character in the caller ID: was broken TwiML
@example(form={"CallStatus": "0", "SequenceNumber": str(2**63)}, call_sid="CA" + "0" * 32)  # beyond SQLite's integers: was a 500
def test_signed_webhooks_with_any_form(client, form, call_sid):
    voice = _signed(client, "/twilio/voice", dict(form, CallSid=call_sid, AccountSid=ACCOUNT_SID))
    _deliberate(voice, {200, 400, 409})
    if voice.status_code == 200:
        ET.fromstring(voice.get_data(as_text=True))  # well-formed TwiML whatever the caller's number said
    status = _signed(client, "/twilio/status", dict(form, CallSid=call_sid))
    _deliberate(status, {204, 400, 409})


@fixed
@given(form=forms, signature=st.one_of(st.none(), st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)))
def test_unsigned_or_missigned_webhooks_store_nothing(client, form, signature):
    call_sid = form.get("CallSid") or "CA" + "f" * 32
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    for path in ("/twilio/voice", "/twilio/status"):
        _deliberate(client.post(path, data=dict(form, CallSid=call_sid), headers=headers), {403})
    if call_sid.startswith("CA" + "f" * 10):
        assert calls.get_call(client.application.extensions["voicebot"].db, call_sid) is None


@fixed
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(["application/x-www-form-urlencoded",
                                                                      "multipart/form-data; boundary=x", "application/json",
                                                                      "text/plain", "", "multipart/form-data"]))
def test_webhooks_with_any_body(client, body, content_type):
    for path in ("/twilio/voice", "/twilio/status"):
        headers = {"Content-Type": content_type, "X-Twilio-Signature": "c2lnbmF0dXJl"}
        _deliberate(client.post(path, data=body, headers=headers), {400, 403, 413})


@fixed
@given(segment=form_text, number=st.integers(min_value=-(2**63), max_value=2**63), query=form_text)
@example(segment="../../etc/passwd", number=0, query="'; DROP TABLE calls; --")
@example(segment="CA1", number=2**63, query="")  # beyond SQLite's integers: was a 500
def test_agent_pages_with_any_path_or_query(client, segment, number, query):
    local = {"REMOTE_ADDR": "127.0.0.1"}
    _deliberate(client.get(f"/agent/calls/{quote(segment, safe='')}", environ_base=local), {200, 404, 308})  # 308: '//' merged
    _deliberate(client.get(f"/agent/transfers?call_sid={quote(query, safe='')}", environ_base=local), {200})
    for path in (f"/agent/transfers/{number}", f"/agent/transfers/{number}/view"):
        _deliberate(client.get(path, environ_base=local), {200, 404})
    outside = client.get(f"/agent/calls/{quote(segment, safe='')}", environ_base={"REMOTE_ADDR": "203.0.113.1"})
    _deliberate(outside, {401, 404, 308})  # 404 or 308: a segment with '/' in it is another path
    assert outside.status_code == 401 or "/" in segment or not segment


@fixed
@given(host=st.from_regex(r"[a-z0-9.-]{1,30}(:[0-9]{1,5})?", fullmatch=True), query=form_text,
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
def test_the_public_pages_with_any_host_query_or_method(client, host, query, method):
    for path in ("/", "/healthz", "/metrics"):
        response = client.open(f"{path}?{quote(query, safe='=&')}", method=method, headers={"Host": host})
        _deliberate(response, {200, 400, 503} if method == "GET" else {400, 405})  # 400: a host werkzeug refuses
