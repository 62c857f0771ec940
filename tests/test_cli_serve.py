"""``voicebot serve`` as a user runs it: gunicorn with gthread workers, the banner, health while
models cannot load, and the webhook + WebSocket routes through gunicorn (not werkzeug).

The first server gets a flow file that does not exist, so it never loads models (cheap to run)
and ``/healthz`` must say why it cannot take calls. The second (slow) is the real thing: the
demo flow and the models, answering a simulated call placed with ``voicebot call --url``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import ACCOUNT_SID, AUTH_TOKEN, StreamClient, signed_post
from test_cli_call import assert_the_bot_answered_the_order, fresh_user_env

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    port = _free_port()
    env = dict(os.environ, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
               VOICEBOT_DATA_DIR=str(tmp_path_factory.mktemp("serve")), VOICEBOT_FLOW="/nonexistent/flow.yaml")
    process = subprocess.Popen([sys.executable, "-m", "voicebot.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--threads", "8"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).json().get("status") == "error":
                break
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.2)
    yield url, process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=20)


def test_health_is_503_with_the_reason_when_models_cannot_load(served):
    url, _ = served
    health = requests.get(url + "/healthz", timeout=5)
    assert health.status_code == 503
    assert health.json()["status"] == "error" and "flow.yaml" in health.json()["error"]


def test_webhook_and_websocket_work_through_gunicorn_and_refuse_calls_without_models(served):
    url, _ = served
    call_sid = "CA" + "9" * 32
    params = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+15550000001", "To": "+15550000002", "CallStatus": "ringing"}
    twiml = signed_post(url, "/twilio/voice", params)
    assert twiml.status_code == 200 and "<Hangup" in twiml.text and "<Connect" not in twiml.text
    # a stream opened anyway (e.g. a stale TwiML) is refused over gunicorn's WebSocket
    client = StreamClient(url.replace("http://", "ws://") + "/twilio/media")
    client.start(call_sid, {"token": "whatever"})
    assert client.closed_by_server(timeout=5)
    assert not [m for m in client.received if m["event"] == "media"]


def test_banner_says_where_to_point_twilio_and_the_worker_is_gthread(served):
    url, process = served
    assert f"{url}/twilio/voice" in requests.get(url + "/", timeout=5).text
    time.sleep(1.0)  # the banner thread polls /healthz every 0.5 s
    os.killpg(process.pid, signal.SIGTERM)
    output = process.communicate(timeout=20)[0]
    assert f"Twilio voice webhook (A call comes in, HTTP POST): {url}/twilio/voice" in output
    assert f"Twilio status callback URL:                        {url}/twilio/status" in output
    assert "Using worker: gthread" in output
    assert "voicebot cannot take calls" in output and "flow.yaml" in output


# --- the real thing: gunicorn with the demo flow and the models answers a simulated call ----
@pytest.fixture(scope="module")
def served_for_real(tmp_path_factory):
    """``voicebot serve`` as a new user starts it (defaults, the demo flow), on a free port with
    its own data folder; yields once ``/healthz`` says the models are loaded."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "voicebot.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--threads", "8"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=fresh_user_env(tmp_path_factory.mktemp("serve-real")), cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    health = None
    deadline = time.monotonic() + 600  # loading every model on a busy machine
    while time.monotonic() < deadline and process.poll() is None:
        try:
            health = requests.get(url + "/healthz", timeout=2)
            if health.status_code == 200 or health.json().get("status") == "error":
                break
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    try:
        assert health is not None and health.status_code == 200, health.text if health is not None else "no answer"
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.mark.slow
def test_serve_answers_a_real_simulated_call_with_the_order_status(served_for_real, tmp_path):
    url, process = served_for_real
    done = subprocess.run([sys.executable, "-m", "voicebot.cli.main", "call", "audio_fixtures/order_4172.wav", "--url", url,
                           "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT, env=fresh_user_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert_the_bot_answered_the_order(done.stdout)
    os.killpg(process.pid, signal.SIGTERM)
    output = process.communicate(timeout=30)[0]
    assert "Using worker: gthread" in output and "voicebot is ready: models loaded" in output
