"""Hostile traffic on the media WebSocket over a real server: oversized messages, sockets that
never start, too many idle sockets (the oldest waiting one is evicted, never a real call), and
handshakes without Twilio's signature when signatures are required."""
from __future__ import annotations

import json
import struct
import time

import pytest
import websocket
from conftest import AUTH_TOKEN, StreamClient, answer_call

from voicebot.security.signatures import sign
from voicebot.telephony.twilio.media_stream import MAX_MESSAGE_BYTES, MAX_MESSAGES_BEFORE_START, POLICY_VIOLATION
from voicebot.testing.live_server import LiveServer

TOO_BIG = 1009


def close_frame(ws, timeout: float = 10.0) -> tuple[int, str] | None:
    """Read until the server's close frame: (code, reason); None when none came in ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            opcode, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return None
        except (websocket.WebSocketConnectionClosedException, OSError):
            return (0, "dropped")
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return (struct.unpack("!H", data[:2])[0], data[2:].decode()) if len(data) >= 2 else (1005, "")
    return None


def _greeted(base_url: str) -> bool:
    """A real call still gets through: webhook answered, stream started, greeting audio received."""
    call_sid, url, params = answer_call(base_url)
    client = StreamClient(url)
    try:
        client.start(call_sid, params)
        return client.recv_until(lambda m: m["event"] == "media", timeout=10) is not None
    finally:
        client.close()


@pytest.mark.parametrize("started", [False, True], ids=["before start", "after start"])
def test_a_message_over_the_size_limit_closes_the_socket(echo_server, started):
    call_sid, url, params = answer_call(echo_server.url)
    client = StreamClient(url)
    try:
        if started:
            client.start(call_sid, params)
            assert client.recv_until(lambda m: m["event"] == "media") is not None
        client.send_raw(json.dumps({"event": "media", "media": {"payload": "A" * (16 * 1024 * 1024)}}))  # 16 MB
        assert close_frame(client.ws)[0] == TOO_BIG
    finally:
        client.close()
    assert _greeted(echo_server.url)  # the server is unharmed


def test_a_message_just_under_the_limit_is_read(echo_server):
    call_sid, url, params = answer_call(echo_server.url)
    client = StreamClient(url)
    try:
        client.send_raw(json.dumps({"event": "connected", "pad": "x" * (MAX_MESSAGE_BYTES - 100)}))
        client.start(call_sid, params)
        assert client.recv_until(lambda m: m["event"] == "media") is not None
    finally:
        client.close()


def test_a_socket_without_a_start_is_closed_after_the_start_timeout(echo_server):
    client = StreamClient(echo_server.url.replace("http://", "ws://") + "/twilio/media")
    try:
        client.send_raw(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        code, reason = close_frame(client.ws, timeout=echo_server.state.settings.stream_start_timeout_s + 10)
        assert code == POLICY_VIOLATION and reason.startswith("no valid start within")
    finally:
        client.close()


def test_chatter_without_a_start_is_closed_at_once(echo_server):
    client = StreamClient(echo_server.url.replace("http://", "ws://") + "/twilio/media")
    try:
        for _ in range(MAX_MESSAGES_BEFORE_START + 1):  # one more than allowed: the server closes on reading it
            client.send_raw(json.dumps({"event": "connected"}))
        code, reason = close_frame(client.ws, timeout=echo_server.state.settings.stream_start_timeout_s - 1)
        assert code == POLICY_VIOLATION and "messages without a valid start" in reason
    finally:
        client.close()


def test_a_start_with_a_bad_token_is_closed_with_the_reason(echo_server):
    call_sid, url, _ = answer_call(echo_server.url)
    client = StreamClient(url)
    try:
        client.start(call_sid, {"token": "guessed"})
        assert close_frame(client.ws) == (POLICY_VIOLATION, "stream rejected")
    finally:
        client.close()


def test_idle_sockets_are_evicted_oldest_first_and_a_real_call_still_starts(echo_app_factory):
    app, _ = echo_app_factory(max_waiting_streams=3, stream_start_timeout_s=600)
    with LiveServer(app) as server:
        media = server.url.replace("http://", "ws://") + "/twilio/media"
        idle = []
        try:
            for _ in range(4):  # one more than the gate holds
                idle.append(websocket.create_connection(media, timeout=5))
                time.sleep(0.3)  # each is admitted (and the oldest evicted) in order
            assert close_frame(idle[0], timeout=5) == (POLICY_VIOLATION, "evicted: too many sockets waiting for their start")
            assert _greeted(server.url)  # the real call took a place too: the next oldest went
            assert close_frame(idle[1], timeout=5)[1].startswith("evicted")
            for ws in idle[2:]:
                assert close_frame(ws, timeout=0.5) is None  # still waiting: nothing evicted them
        finally:
            for ws in idle:
                ws.close()


def test_with_required_signatures_an_unsigned_handshake_is_refused_before_the_upgrade(echo_app_factory):
    app, _ = echo_app_factory(require_stream_signature=True)
    with LiveServer(app) as server:
        call_sid, url, params = answer_call(server.url)
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, timeout=5)
        assert refused.value.status_code == 403
        forged = sign(url, {}, "someone-elses-token")
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(url, timeout=5, header=[f"X-Twilio-Signature: {forged}"])
        client = StreamClient.__new__(StreamClient)  # as Twilio does it: the handshake signed over the wss URL
        client.ws = websocket.create_connection(url, timeout=5, header=[f"X-Twilio-Signature: {sign(url, {}, AUTH_TOKEN)}"])
        client.sequence, client.stream_sid, client.received = 0, "MZ" + "3" * 32, []
        try:
            client.start(call_sid, params)
            assert client.recv_until(lambda m: m["event"] == "media") is not None
        finally:
            client.close()
