"""The web app's protections over a real server: security headers on every response, HSTS only
behind TLS, session cookie flags, CSRF on forms (Twilio's signed webhooks exempt), body size
limits, and throttled password guessing on the agent pages."""
from __future__ import annotations

import base64
import re
import secrets

import pytest
import requests
from conftest import ACCOUNT_SID, answer_call, new_call_sid, signed_post
from flask import Blueprint, render_template_string, request

from voicebot.storage import calls
from voicebot.testing.live_server import LiveServer

FORM = """<form method="post" action="/test-form"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input name="note"><button>Send</button></form>"""


def _form_blueprint() -> Blueprint:
    """The smallest form the admin console will have: a CSRF token in a hidden field."""
    bp = Blueprint("test_form", __name__)

    @bp.route("/test-form", methods=["GET", "POST"])
    def form():
        if request.method == "POST":
            return f"saved {request.form.get('note', '')}"
        return render_template_string(FORM)

    return bp


@pytest.fixture(scope="module")
def form_server(echo_app_factory):
    app, _ = echo_app_factory()
    app.register_blueprint(_form_blueprint())
    with LiveServer(app) as server:
        yield server.url, app


def _assert_security_headers(response: requests.Response) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp, csp
    assert "'unsafe-inline'" not in re.search(r"script-src ([^;]*)", csp).group(1)
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"


def test_every_kind_of_response_carries_the_security_headers(form_server):
    url, _ = form_server
    responses = {
        "start page": requests.get(url + "/", timeout=5),
        "health": requests.get(url + "/healthz", timeout=5),
        "metrics": requests.get(url + "/metrics", timeout=5),
        "agent page": requests.get(url + "/agent/transfers?call_sid=CA1", timeout=5),
        "not found": requests.get(url + "/no-such-page", timeout=5),
        "forged webhook": requests.post(url + "/twilio/voice", data={"CallSid": new_call_sid()}, timeout=5),
        "signed webhook": signed_post(url, "/twilio/voice", {"CallSid": new_call_sid(), "AccountSid": ACCOUNT_SID}),
        "form": requests.get(url + "/test-form", timeout=5),
    }
    assert [r.status_code for r in responses.values()] == [200, 200, 200, 200, 404, 403, 200, 200]
    for name, response in responses.items():
        _assert_security_headers(response)
        assert "Strict-Transport-Security" not in response.headers, name  # plain http: HSTS would be a lie


def test_hsts_when_a_trusted_proxy_says_the_request_came_over_tls(echo_app_factory):
    app, _ = echo_app_factory(trusted_proxies=1, public_url="https://bot.example.com")
    with LiveServer(app) as server:
        secure = requests.get(server.url + "/healthz", headers={"X-Forwarded-Proto": "https",
                                                                 "X-Forwarded-For": "198.51.100.4"}, timeout=5)
        assert int(re.match(r"max-age=(\d+)", secure.headers["Strict-Transport-Security"]).group(1)) >= 365 * 86400
        _assert_security_headers(secure)
        assert "Strict-Transport-Security" not in requests.get(server.url + "/healthz", timeout=5).headers


def test_the_session_cookie_is_secure_httponly_and_samesite(form_server):
    url, _ = form_server
    cookie = requests.get(url + "/test-form", timeout=5).headers["Set-Cookie"]
    assert cookie.startswith("voicebot_session=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax"} <= flags


def _session_and_token(url: str) -> tuple[str, str]:
    page = requests.get(url + "/test-form", timeout=5)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    session = page.headers["Set-Cookie"].split(";")[0]  # sent by hand: requests keeps Secure cookies for https
    return session, token


def test_a_form_post_needs_the_csrf_token_of_its_session(form_server):
    url, _ = form_server
    session, token = _session_and_token(url)
    missing = requests.post(url + "/test-form", data={"note": "hi"}, headers={"Cookie": session}, timeout=5)
    assert missing.status_code == 400 and "CSRF token is missing" in missing.text
    forged = requests.post(url + "/test-form", data={"note": "hi", "csrf_token": "x" + token[1:]},
                           headers={"Cookie": session}, timeout=5)
    assert forged.status_code == 400 and "refused" in forged.text
    other_session, _ = _session_and_token(url)  # a token stolen from another session does not work here
    stolen = requests.post(url + "/test-form", data={"note": "hi", "csrf_token": token}, headers={"Cookie": other_session},
                           timeout=5)
    assert stolen.status_code == 400
    ok = requests.post(url + "/test-form", data={"note": "hi", "csrf_token": token}, headers={"Cookie": session}, timeout=5)
    assert ok.status_code == 200 and ok.text == "saved hi"
    header = requests.post(url + "/test-form", data={"note": "js"}, headers={"Cookie": session, "X-CSRFToken": token},
                           timeout=5)
    assert header.status_code == 200  # the header form, for pages that post with fetch()


def test_signed_twilio_webhooks_need_no_csrf_token(form_server):
    url, app = form_server
    call_sid, _, params = answer_call(url)
    assert params["token"]
    status = signed_post(url, "/twilio/status", {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "CallStatus": "completed"})
    assert status.status_code == 204
    assert calls.get_call(app.extensions["voicebot"].db, call_sid).status == "completed"


def test_an_oversized_webhook_body_is_refused_before_it_is_read(form_server):
    url, app = form_server
    call_sid = new_call_sid()
    params = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+15550001234", "Padding": "x" * 200_000}
    response = signed_post(url, "/twilio/voice", params)
    assert response.status_code == 413
    assert calls.get_call(app.extensions["voicebot"].db, call_sid) is None


def _basic(password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"agent:{password}".encode()).decode()}


def test_agent_password_guessing_locks_the_address_out(echo_app_factory):
    app, _ = echo_app_factory(agent_password="correct horse")
    client = app.test_client()
    guesser, colleague = {"REMOTE_ADDR": "203.0.113.9"}, {"REMOTE_ADDR": "203.0.113.10"}
    page = "/agent/transfers?call_sid=CA1"
    assert client.get(page, environ_base=guesser).status_code == 401  # no credentials: not a guess
    for _ in range(5):
        assert client.get(page, environ_base=guesser, headers=_basic(secrets.token_hex(4))).status_code == 401
    locked = client.get(page, environ_base=guesser, headers=_basic("correct horse"))
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 800
    assert client.get(page, environ_base=colleague, headers=_basic("correct horse")).status_code == 200
