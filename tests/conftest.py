"""Shared fixtures: a real voicebot web app on a random port (werkzeug server in a thread, real
WebSocket), a local Twilio REST stand-in, and helpers that speak Twilio's protocol by hand.

``echo_server``: the app with the ``EchoSession`` test double (protocol tests, no models).
``real_server``: the app with the real pipeline (models loaded once per test session).
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token"

# --- PostgreSQL: the storage tests also run there when a server is reachable --------------------
# VOICEBOT_TEST_DATABASE_URL names the server (CI sets it; the run fails if it is down); unset,
# the documented development server is used when it answers; set to "" it is never tried.
DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_postgres_notice = ""


def _reachable(url: str) -> str:
    """'' when ``url`` accepts a connection, else the reason in a few words."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return ""
    except Exception as exc:  # any driver error means: not usable here
        return str(exc).strip().splitlines()[0][:160]
    finally:
        engine.dispose()


@contextlib.contextmanager
def private_pg_schema(prefix: str = "vb_test"):
    """A URL of the PostgreSQL test database whose tables live in a fresh private schema (dropped
    afterwards), so tests never meet what other runs or older versions left in the public one."""
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    url = os.environ.get("VOICEBOT_TEST_DATABASE_URL")
    if not url:
        pytest.skip("no PostgreSQL test server (VOICEBOT_TEST_DATABASE_URL)")
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def pytest_configure(config):
    global _postgres_notice
    if "VOICEBOT_TEST_DATABASE_URL" in os.environ:
        url = os.environ["VOICEBOT_TEST_DATABASE_URL"]
        _postgres_notice = (f"PostgreSQL tests: on, {url} (VOICEBOT_TEST_DATABASE_URL)" if url else
                            "PostgreSQL tests: SKIPPED (VOICEBOT_TEST_DATABASE_URL is empty)")
        return
    reason = _reachable(DEFAULT_TEST_DATABASE_URL)
    if reason:
        _postgres_notice = (f"PostgreSQL tests: SKIPPED, no server at {DEFAULT_TEST_DATABASE_URL} ({reason}); "
                            "set VOICEBOT_TEST_DATABASE_URL to use another")
    else:
        os.environ["VOICEBOT_TEST_DATABASE_URL"] = DEFAULT_TEST_DATABASE_URL
        _postgres_notice = f"PostgreSQL tests: on, {DEFAULT_TEST_DATABASE_URL} (reachable)"


def pytest_report_header(config):
    return _postgres_notice


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(_postgres_notice)


def make_settings(data_dir, rest_url: str, **extra):
    """Settings for a test app: built directly, so the developer's environment cannot leak in."""
    from voicebot.config import Settings

    return Settings(data_dir=str(data_dir), twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                    twilio_api_base_url=rest_url, **extra)


@pytest.fixture(scope="session")
def rest_standin():
    from voicebot.testing.rest_standin import RestStandin

    standin = RestStandin(ACCOUNT_SID, AUTH_TOKEN)
    yield standin
    standin.stop()


def _echo_app(data_dir, rest_url: str, session_options: dict | None = None, **extra):
    from voicebot.testing.echo_session import EchoSession
    from voicebot.web.app import create_app

    sessions: dict[str, EchoSession] = {}

    def factory(call_sid, io, state):
        session = EchoSession(call_sid, io, state, **(session_options or {}))
        sessions[call_sid] = session
        return session

    app = create_app(make_settings(data_dir, rest_url, **extra), session_factory=factory)
    return app, sessions


@pytest.fixture(scope="session")
def echo_server(tmp_path_factory, rest_standin):
    """The real app and server with EchoSession as the call session."""
    from voicebot.testing.live_server import LiveServer

    app, sessions = _echo_app(tmp_path_factory.mktemp("echo"), rest_standin.url)
    with LiveServer(app) as server:
        yield SimpleNamespace(url=server.url, app=app, state=app.extensions["voicebot"], sessions=sessions,
                              standin=rest_standin)


@pytest.fixture(scope="session")
def echo_app_factory(tmp_path_factory, rest_standin):
    """Build another echo app: ``session_options`` for ``EchoSession`` (e.g. ``reply_s``), other
    keywords are settings (e.g. a public URL); the caller starts a LiveServer for it."""
    def build(session_options: dict | None = None, **extra):
        return _echo_app(tmp_path_factory.mktemp("echo-extra"), rest_standin.url, session_options, **extra)

    return build


@pytest.fixture(scope="session")
def real_pipeline(tmp_path_factory, rest_standin):
    """The real pipeline (ASR, NLU, flow, TTS) on a seeded demo database, loaded once per test run."""
    from voicebot.session.pipeline import build_pipeline
    from voicebot.storage.seed import seed_demo

    pipeline = build_pipeline(make_settings(tmp_path_factory.mktemp("real"), rest_standin.url))
    seed_demo(pipeline.db)
    return pipeline


@pytest.fixture(scope="session")
def real_server(real_pipeline, rest_standin):
    """The real app with the real pipeline, on a real server."""
    from voicebot.testing.live_server import LiveServer
    from voicebot.web.app import create_app

    settings = real_pipeline.settings
    app = create_app(settings, pipeline=real_pipeline)
    with LiveServer(app) as server:
        yield SimpleNamespace(url=server.url, app=app, state=app.extensions["voicebot"], standin=rest_standin,
                              settings=settings)


# --- speaking Twilio's protocol by hand ----------------------------------------------------
def signed_post(base_url: str, path: str, params: dict, token: str = AUTH_TOKEN, signed_url: str | None = None):
    import requests

    from voicebot.security.signatures import sign

    signature = sign(signed_url or base_url + path, params, token)
    return requests.post(base_url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def new_call_sid() -> str:
    import secrets

    return "CA" + secrets.token_hex(16)


def answer_call(base_url: str, call_sid: str | None = None, caller: str = "+15551110000") -> tuple[str, str, dict]:
    """Post the voice webhook; return (call_sid, stream url, stream parameters)."""
    call_sid = call_sid or new_call_sid()
    params = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": caller, "To": "+15552220000",
              "CallStatus": "ringing", "Direction": "inbound"}
    response = signed_post(base_url, "/twilio/voice", params)
    assert response.status_code == 200, response.text
    stream = ET.fromstring(response.text).find("Connect/Stream")
    return call_sid, stream.get("url"), {p.get("name"): p.get("value") for p in stream.findall("Parameter")}


class StreamClient:
    """A hand-driven Twilio Media Streams client over a real WebSocket."""

    def __init__(self, url: str):
        import websocket

        self.ws = websocket.create_connection(url, timeout=5)
        self.sequence = 0
        self.stream_sid = "MZ" + "2" * 32
        self.received: list[dict] = []

    def send(self, event: str, sequence: int | None = None, **body) -> None:
        self.sequence = sequence if sequence is not None else self.sequence + 1
        self.ws.send(json.dumps({"event": event, "sequenceNumber": str(self.sequence), "streamSid": self.stream_sid, **body}))

    def send_raw(self, text: str) -> None:
        self.ws.send(text)

    def start(self, call_sid: str, params: dict) -> None:
        self.ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        self.send("start", start={"streamSid": self.stream_sid, "callSid": call_sid, "accountSid": ACCOUNT_SID,
                                  "tracks": ["inbound"], "customParameters": params,
                                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}})

    def media(self, ulaw: bytes, sequence: int | None = None) -> None:
        self.send("media", sequence, media={"track": "inbound", "chunk": "1", "timestamp": "0",
                                            "payload": base64.b64encode(ulaw).decode()})

    def _recv(self, deadline: float):
        """The next message, ``"timeout"`` when none came by ``deadline``, or ``"closed"``."""
        import websocket

        self.ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            raw = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return "timeout"
        except (websocket.WebSocketConnectionClosedException, OSError):
            return "closed"
        if not raw:
            return "closed"
        message = json.loads(raw)
        self.received.append(message)
        return message

    def recv_until(self, predicate, timeout: float = 5.0) -> dict | None:
        """Receive messages until one satisfies ``predicate``; None on timeout or close."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._recv(deadline)
            if isinstance(message, str):
                return None
            if predicate(message):
                return message
        return None

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True when the server closes the socket within ``timeout`` (messages before it are kept)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._recv(deadline)
            if message == "closed":
                return True
            if message == "timeout":
                return False
        return False

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


_DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3", "four": "4",
                "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}


def spoken_digits(text: str) -> str:
    """The digits in a transcript, spelled or not: "for one seven 2" -> "4172"."""
    return "".join(_DIGIT_WORDS.get(w, w) for w in re.findall(r"[a-z]+|\d+", text.lower()) if w.isdigit() or w in _DIGIT_WORDS)


def thread_names() -> set[str]:
    return {t.name for t in threading.enumerate()}


# --- real headless Chromium (Debian's package, installed by `make test`), driven by Playwright -----
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def launch_chromium():
    """``launch(extra_args=[...])`` -> a Playwright browser on Debian's Chromium (closed at the end).
    Extra flags, e.g. ``--use-fake-device-for-media-stream --use-file-for-fake-audio-capture=FILE.wav``
    to feed a recorded voice to ``getUserMedia``. Playwright's own browser download cannot work here."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browsers = []

    def launch(extra_args=()):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, *extra_args])
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def chromium(launch_chromium):
    """One headless Chromium for the session's plain page tests."""
    return launch_chromium()


@pytest.fixture()
def page(chromium):
    """A fresh page with its own context (cookies, storage)."""
    context = chromium.new_context()
    yield context.new_page()
    context.close()
