"""Agent pages hold callers' words: only this machine, or a client with the agent password."""
import base64

import pytest

from voicebot.config import load_settings
from voicebot.testing.echo_session import EchoSession
from voicebot.web.app import create_app


def make_client(tmp_path, **overrides):
    settings = load_settings(data_dir=str(tmp_path), **overrides)
    return create_app(settings, session_factory=EchoSession).test_client()


def basic(password):
    return {"Authorization": "Basic " + base64.b64encode(f"agent:{password}".encode()).decode()}


def test_without_a_password_only_loopback_clients_are_answered(tmp_path):
    client = make_client(tmp_path)
    assert client.get("/agent/transfers?call_sid=CA1", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    outside = client.get("/agent/transfers?call_sid=CA1", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert outside.status_code == 401
    assert "VOICEBOT_AGENT_PASSWORD" in outside.get_data(as_text=True)


@pytest.mark.parametrize("remote", ["127.0.0.1", "203.0.113.7"])
def test_with_a_password_every_client_needs_it(tmp_path, remote):
    client = make_client(tmp_path, agent_password="s3cret")
    env = {"REMOTE_ADDR": remote}
    assert client.get("/agent/transfers?call_sid=CA1", environ_base=env).status_code == 401
    assert client.get("/agent/transfers?call_sid=CA1", environ_base=env, headers=basic("wrong")).status_code == 401
    assert client.get("/agent/transfers?call_sid=CA1", environ_base=env, headers=basic("s3cret")).status_code == 200


def test_health_stays_public(tmp_path):
    client = make_client(tmp_path, agent_password="s3cret")
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 200
