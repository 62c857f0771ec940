"""Web chat through the real app on a real server (``echo_server``: no speech models; the chat
runs the demo flow with the real understanding layer): the JSON API, its limits, the WebSocket
(pushes and the replay after a reconnect), pictures, and the agent's side of a handoff."""
from __future__ import annotations

import json
import re
import struct
import zlib

import pytest
import requests
import websocket

from voicebot.channels.base import MAX_TEXT_CHARS
from voicebot.channels.hub import POLITE_SLOW_DOWN


@pytest.fixture(autouse=True, scope="module")
def demo_data(echo_server):
    """The demo customers and orders (a server seeds them when it loads its models; echo apps load none)."""
    from voicebot.storage.seed import seed_demo

    seed_demo(echo_server.state.db)


def png(size: int = 0) -> bytes:
    """A real 1x1 PNG, padded with a text chunk to about ``size`` bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    pad = chunk(b"tEXt", b"c\x00" + b"x" * size) if size else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + pad
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def agent_page_token(url: str, session: str) -> tuple[str, str]:
    """The agent page's session cookie and CSRF token (the cookie is Secure: sent by hand over http)."""
    page = requests.get(f"{url}/agent/chats/{session}", timeout=10)
    cookie = page.headers["Set-Cookie"].split(";")[0]
    return cookie, re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_the_rate_limiter_counts_a_window_per_sender_and_forgets_quiet_ones():
    from voicebot.channels.hub import MAX_TRACKED, RateLimiter

    now = [0.0]
    limiter = RateLimiter(2, 10.0, clock=lambda: now[0])
    assert [limiter.allow("a"), limiter.allow("a"), limiter.allow("a"), limiter.allow("b")] == [True, True, False, True]
    now[0] = 10.5
    assert limiter.allow("a")  # the window moved on
    for i in range(MAX_TRACKED + 1):
        limiter.allow(f"x{i}")
    now[0] = 30.0
    limiter.allow("c")
    assert len(limiter._seen) == 1  # everyone quiet for a window was forgotten


def new_session(url: str, **who) -> dict:
    response = requests.post(f"{url}/api/chat/sessions", json=who, timeout=120)
    assert response.status_code == 201, response.text
    return response.json()


def say(url: str, session: str, text: str) -> requests.Response:
    return requests.post(f"{url}/api/chat/sessions/{session}/messages", json={"text": text}, timeout=60)


def test_a_session_greets_with_menu_buttons_and_answers_typed_messages(echo_server):
    body = new_session(echo_server.url)
    assert len(body["id"]) >= 32
    assert [m["text"] for m in body["messages"]] == ["Welcome to Acme.", "How can I help? Pick a topic, or type your order number."]
    assert body["messages"][-1]["quick_replies"] == ["Order status", "Billing", "Returns", "Store hours", "Recommendations"]
    reply = say(echo_server.url, body["id"], "Order status")
    assert reply.status_code == 200
    assert reply.json()["received"]["text"] == "Order status"
    assert [m["text"] for m in reply.json()["messages"]] == ["Please type your order number."]
    answer = say(echo_server.url, body["id"], "4172").json()
    assert answer["messages"][0]["text"] == "Order 4 1 7 2 has shipped and arrives Thursday."
    after = body["messages"][-1]["id"]  # the greeting's last line
    history = requests.get(f"{echo_server.url}/api/chat/sessions/{body['id']}/messages?after={after}", timeout=10).json()
    assert [m["speaker"] for m in history["messages"]] == ["customer", "bot", "customer", "bot", "bot"]


def test_a_typed_phone_links_the_chat_to_that_history_but_reveals_nothing(echo_server):
    body = new_session(echo_server.url, phone="+1 555 000 1111")
    assert body["messages"][0]["text"] == "Welcome to Acme."  # anyone can type Ana's number: no "Hi Ana"
    from voicebot.storage.timeline import timeline

    linked = {e["conversation"] for e in timeline(echo_server.state.db, phone="+15550001111")}
    assert body["id"] in linked
    huge = requests.get(f"{echo_server.url}/api/chat/sessions/{body['id']}/messages?after={'9' * 40}", timeout=10)
    assert huge.status_code == 200 and len(huge.json()["messages"]) == 2  # an absurd id reads as 0


def test_bad_messages_get_clear_errors_and_nothing_is_stored(echo_server):
    session = new_session(echo_server.url)["id"]
    assert requests.post(f"{echo_server.url}/api/chat/sessions/nope/messages", json={"text": "hi"}, timeout=10).status_code == 404
    empty = requests.post(f"{echo_server.url}/api/chat/sessions/{session}/messages", json={"text": "  "}, timeout=10)
    assert (empty.status_code, empty.json()["error"]) == (400, 'send {"text": "..."} with some words')
    long = say(echo_server.url, session, "x" * (MAX_TEXT_CHARS + 1))
    assert (long.status_code, long.json()["error"]) == (413, f"message too long: at most {MAX_TEXT_CHARS} characters")
    stored = requests.get(f"{echo_server.url}/api/chat/sessions/{session}/messages", timeout=10).json()["messages"]
    assert [m["speaker"] for m in stored] == ["bot", "bot"]


def test_a_flood_from_one_chat_is_slowed_down_politely(echo_server):
    session = new_session(echo_server.url)["id"]
    codes = [say(echo_server.url, session, "store hours").status_code for _ in range(9)]
    assert codes == [200] * 8 + [429]
    refused = say(echo_server.url, session, "store hours").json()
    assert refused["messages"][0]["text"] == POLITE_SLOW_DOWN


def test_pictures_are_checked_stored_encrypted_and_shown_to_the_agent(echo_server):
    session = new_session(echo_server.url)["id"]
    base = f"{echo_server.url}/api/chat/sessions/{session}/attachments"
    picture = png(100_000)  # larger than ordinary request bodies may be
    sent = requests.post(base, data=picture, headers={"Content-Type": "image/png"}, timeout=10)
    assert sent.status_code == 201, sent.text
    attachment = sent.json()["received"]["attachment"]
    fake = requests.post(base, data=b"#!/bin/sh\necho hi\n", headers={"Content-Type": "image/png"}, timeout=10)
    assert (fake.status_code, fake.json()["error"]) == (415, "only pictures can be attached (PNG, JPEG, GIF or WebP)")
    huge = requests.post(base, data=picture[:8] + b"\x00" * (5 * 1024 * 1024 + 1), timeout=20)
    assert (huge.status_code, huge.json()["error"]) == (413, "picture too big: at most 5 MB")
    shown = requests.get(f"{echo_server.url}/agent/chats/{session}/attachments/{attachment}", timeout=10)
    assert (shown.status_code, shown.headers["Content-Type"], shown.content) == (200, "image/png", picture)
    with echo_server.state.db.engine.connect() as c:
        from sqlalchemy import text

        raw = c.execute(text("select data from conversation_attachments where id = :i"), {"i": attachment}).scalar()
    assert "iVBORw0KGgo" not in raw  # base64 of the PNG signature: the bytes are sealed


def test_the_socket_pushes_agent_replies_and_replays_what_a_dropped_client_missed(echo_server):
    url = echo_server.url
    session = new_session(url)["id"]
    ws_url = url.replace("http", "ws") + f"/api/chat/sessions/{session}/socket"
    ws = websocket.create_connection(ws_url + "?after=0", timeout=10)
    replayed = [json.loads(ws.recv()) for _ in range(3)]
    assert [e["message"]["text"] for e in replayed[:2]] == ["Welcome to Acme.", "How can I help? Pick a topic, or type your order number."]
    assert replayed[2] == {"type": "status", "status": "bot"}
    handed = say(url, session, "I want to talk to a person").json()
    assert (handed["status"], [m["text"] for m in handed["messages"]]) == ("agent", ["Connecting you to an agent."])
    pushed = [json.loads(ws.recv()) for _ in range(5)]
    assert [e["type"] for e in pushed] == ["typing", "typing", "message", "message", "status"]
    assert (pushed[0]["on"], pushed[1]["on"], pushed[4]["status"]) == (True, False, "agent")
    assert [e["message"]["text"] for e in pushed[2:4]] == ["I want to talk to a person", "Connecting you to an agent."]
    last_seen = max(e["message"]["id"] for e in pushed if e["type"] == "message")
    ws.close()  # the customer's connection drops; the agent answers meanwhile
    waiting = requests.get(f"{url}/agent/chats", timeout=10)
    assert session in waiting.text
    agent = requests.get(f"{url}/agent/chats/{session}", timeout=10)
    assert agent.status_code == 200 and "agent_requested" in agent.text
    quiet = say(url, session, "are you there?").json()
    assert quiet["messages"] == []  # the bot stays quiet once a human has the chat
    cookie, token = agent_page_token(url, session)
    forged = requests.post(f"{url}/agent/chats/{session}/messages", json={"text": "hi"}, headers={"Cookie": cookie}, timeout=10)
    assert forged.status_code == 400  # an agent's reply needs the page's CSRF token
    sent = requests.post(f"{url}/agent/chats/{session}/messages", json={"text": "Hi, I'm Sam. How can I help?"},
                         headers={"Cookie": cookie, "X-CSRFToken": token}, timeout=10)
    assert sent.status_code == 201, sent.text
    ws = websocket.create_connection(ws_url + f"?after={last_seen}", timeout=10)
    missed = [json.loads(ws.recv()) for _ in range(3)]
    ws.close()
    assert [(e["message"]["speaker"], e["message"]["text"]) for e in missed[:2]] == [
        ("customer", "are you there?"), ("agent", "Hi, I'm Sam. How can I help?")]


def test_an_unknown_session_socket_is_told_and_closed(echo_server):
    ws = websocket.create_connection(echo_server.url.replace("http", "ws") + "/api/chat/sessions/nope/socket", timeout=10)
    assert json.loads(ws.recv()) == {"type": "error", "error": "no such chat session"}
    opcode, data = ws.recv_data(control_frame=True)
    assert (opcode, struct.unpack(">H", data[:2])[0], data[2:]) == (websocket.ABNF.OPCODE_CLOSE, 1008, b"no such chat session")


def test_the_agent_page_shows_the_customers_calls_and_texts_on_one_timeline(echo_server):
    from tests.conftest import ACCOUNT_SID, signed_post
    from voicebot.storage import calls

    db, phone = echo_server.state.db, "+15550007777"
    call_id = calls.begin_call(db, "CA" + "7" * 32, phone)
    calls.add_turn(db, call_id, "caller", "I never got my refund")
    texted = signed_post(echo_server.url, "/twilio/sms", {"MessageSid": "SM" + "7" * 32, "AccountSid": ACCOUNT_SID,
                                                          "From": phone, "To": "+15552220000", "Body": "returns"})
    assert texted.status_code == 200
    chat = new_session(echo_server.url, phone="555-000-7777")["id"]
    say(echo_server.url, chat, "I want to talk to a person")
    page = requests.get(f"{echo_server.url}/agent/chats/{chat}", timeout=10)
    rows = re.findall(r"<tr><td>[^<]*</td><td>(\w+)</td><td>(\w+)</td><td>([^<]*)</td></tr>", page.text)
    assert rows[0] == ("voice", "caller", "I never got my refund")
    assert ("sms", "customer", "returns") in rows
    assert ("sms", "bot", "You can return unused items within 30 days for a full refund. Keep your receipt.") in rows
    assert all(channel in ("voice", "sms") for channel, _, _ in rows)  # this chat's own lines are below, not here
