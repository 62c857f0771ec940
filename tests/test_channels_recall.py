"""One history per customer: a customer who texted or chatted and then calls from the same number
is greeted on the call with that conversation's topic (the demo flow's ``last_conversation``
lookup). Fast: a call's ``Dialogue`` over the same database; slow: a whole simulated Twilio
call (webhook + Media Streams) against the real server after a signed SMS to it."""
from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, signed_post
from tests.dialogue_driver import DEMO, TextCall, seeded_database, understander_for
from voicebot.channels.base import ChannelParts, TextConversation
from voicebot.config import PROJECT_ROOT

MENU = "How can I help? Say the number of your order, or order status, billing, returns, store hours, or recommendations."


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return seeded_database(tmp_path_factory.mktemp("recall"))


def call(db, phone: str) -> list[str]:
    """What the bot says when ``phone`` calls, up to its first question."""
    return TextCall.start(DEMO, understander_for(DEMO), db, phone, "CA" + secrets.token_hex(16)).said


def test_a_caller_who_texted_first_is_greeted_with_that_topic(db):
    parts = ChannelParts.for_flow(PROJECT_ROOT / "flows" / "retail_demo.yaml", db)
    assert call(db, "+15550002222") == ["Hi Ben, welcome back to Acme.", MENU]  # nothing to recall yet
    sms = TextConversation(parts, "sms", secrets.token_urlsafe(16), kind="phone", address="+15550002222")
    sms.start()
    sms.hear("are you open today")
    assert call(db, "(555) 000-2222") == ["Hi Ben, welcome back to Acme.",
                                          "I see you contacted us by text message about store hours.", MENU]
    chat = TextConversation(parts, "chat", secrets.token_urlsafe(16), phone="+15550002222")
    assert [m.text for m in chat.start()][:2] == ["Welcome to Acme.",  # a typed number is not trusted as theirs
                                                  "How can I help? Pick a topic, or type your order number."]
    chat.hear("I have a question about my bill")  # the newest conversation wins
    assert call(db, "+15550002222")[1] == "I see you contacted us by web chat about billing."
    assert call(db, "+15550009876") == ["Welcome to Acme.", MENU]  # another number: nothing to recall


@pytest.mark.slow
def test_a_simulated_call_after_an_sms_is_greeted_with_the_sms_topic(real_server):
    from voicebot.testing.twilio_sim import Keys, TwilioSimulator

    phone = "+15550003333"
    sms = signed_post(real_server.url, "/twilio/sms", {"MessageSid": "SM" + "1" * 32, "AccountSid": ACCOUNT_SID,
                                                       "From": phone, "To": "+15552220000", "Body": "what are your store hours"})
    assert sms.status_code == 200, sms.text
    assert ET.fromstring(sms.text).findtext("Message").startswith("Hi Chloe, welcome back to Acme. We're")
    sim = TwilioSimulator(real_server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                          rest_standin=real_server.standin, reply_timeout_s=60)
    result = sim.call([Keys("0")], caller=phone)
    said = [t["text"] for t in result.transcript if t["speaker"] == "bot"]
    assert said[:3] == ["Hi Chloe, welcome back to Acme.", "I see you contacted us by text message about store hours.", MENU]
