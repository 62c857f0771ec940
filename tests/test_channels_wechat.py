"""WeChat Official Account conversations through the real app on a real server: the server-URL
check, signed XML text messages answered in XML, retries, non-text messages, a handoff."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

from voicebot.channels.wechat import TEXT_ONLY, signature
from voicebot.storage import conversations as history
from voicebot.storage.seed import seed_demo
from voicebot.testing.live_server import LiveServer

TOKEN = "wechat-token"


@pytest.fixture(scope="module")
def wechat_server(echo_app_factory):
    app, _ = echo_app_factory(wechat_token=TOKEN)
    seed_demo(app.extensions["voicebot"].db)
    with LiveServer(app) as server:
        yield server.url, app


def signed(params: dict | None = None, token: str = TOKEN) -> dict:
    query = {"timestamp": "1764547200", "nonce": "483920", **(params or {})}
    query["signature"] = signature(token, query["timestamp"], query["nonce"])
    return query


def inbound(openid: str, content: str = "", kind: str = "text", msg_id: str = "", event: str = "") -> bytes:
    extra = f"<Content><![CDATA[{content}]]></Content>" if kind == "text" else ""
    extra += f"<Event><![CDATA[{event}]]></Event>" if event else ""
    extra += f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
    return (f"<xml><ToUserName><![CDATA[gh_acme]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>1764547200</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>{extra}</xml>").encode()


def send(url: str, body: bytes, token: str = TOKEN) -> requests.Response:
    return requests.post(f"{url}/wechat", params=signed(token=token), data=body,
                         headers={"Content-Type": "text/xml"}, timeout=60)


def reply_of(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    xml = ET.fromstring(response.text)
    return {child.tag: child.text for child in xml}


def test_the_server_url_check_answers_echostr_only_when_signed(wechat_server):
    url, _ = wechat_server
    ok = requests.get(f"{url}/wechat", params=signed({"echostr": "7734521"}), timeout=10)
    assert (ok.status_code, ok.text) == (200, "7734521")
    bad = requests.get(f"{url}/wechat", params=signed({"echostr": "7734521"}, token="other"), timeout=10)
    assert bad.status_code == 403


def test_a_text_conversation_is_answered_in_xml_and_retries_are_not_heard_twice(wechat_server):
    url, app = wechat_server
    first = send(url, inbound("oUser1", "where is my order 4172", msg_id="1001"))
    body = reply_of(first)
    assert (body["ToUserName"], body["FromUserName"], body["MsgType"]) == ("oUser1", "gh_acme", "text")
    assert body["Content"] == ("Welcome to Acme.\nOrder 4 1 7 2 has shipped and arrives Thursday.\n"
                               "Anything else? Pick a topic, or No to finish.\n"
                               "Reply with: Order status / Billing / Returns / Store hours / Recommendations / Main menu / No")
    again = send(url, inbound("oUser1", "where is my order 4172", msg_id="1001"))  # WeChat's retry
    assert again.text == first.text
    db = app.extensions["voicebot"].db
    conversation = history.conversations_of(db, kind="wechat", address="oUser1")[0]["id"]
    assert [m["speaker"] for m in history.messages(db, conversation)].count("customer") == 1
    voice = reply_of(send(url, inbound("oUser1", kind="voice", msg_id="1002")))
    assert voice["Content"] == TEXT_ONLY


def test_bad_signatures_and_bad_xml_are_refused_and_nothing_is_stored(wechat_server):
    url, app = wechat_server
    db = app.extensions["voicebot"].db
    assert send(url, inbound("oEve", "hello"), token="guess").status_code == 403
    assert history.conversations_of(db, kind="wechat", address="oEve") == []
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>'
    assert send(url, bomb).status_code == 400
    assert send(url, b"<xml><unclosed></xml>").status_code == 400


def test_a_handoff_hands_the_chat_to_an_agent_whose_reply_comes_with_the_next_answer(wechat_server):
    url, app = wechat_server
    greeting = reply_of(send(url, inbound("oUser2", kind="event", event="subscribe")))
    assert greeting["Content"].split("\n")[:2] == ["Welcome to Acme.", "How can I help? Pick a topic, or type your order number."]
    handed = reply_of(send(url, inbound("oUser2", "I want to talk to a person", msg_id="2001")))
    assert handed["Content"] == "Connecting you to an agent."
    quiet = send(url, inbound("oUser2", "hello?", msg_id="2002"))
    assert quiet.text == "success"  # a human has it now: no bot reply
    hub = app.extensions["voicebot.channels"]
    live = hub.for_address("wechat", "oUser2")
    hub.deliver(live, live.agent_says("Hi, this is Sam from Acme."))
    later = reply_of(send(url, inbound("oUser2", "are you there", msg_id="2003")))
    assert later["Content"] == "Hi, this is Sam from Acme."
