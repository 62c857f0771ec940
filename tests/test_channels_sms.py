"""SMS conversations through the real app on a real server, with Twilio's signature on every
request (``signed_post``): TwiML ``<Message>`` replies, carrier keywords, long replies, floods."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import ACCOUNT_SID, signed_post
from voicebot.channels.hub import POLITE_SLOW_DOWN
from voicebot.channels.sms import HELP, MAX_SMS_CHARS, STARTED, STOPPED, TEXT_ONLY, split_sms
from voicebot.storage.conversation_tables import Conversation, Message
from voicebot.storage.seed import seed_demo


@pytest.fixture(autouse=True, scope="module")
def demo_data(echo_server):
    seed_demo(echo_server.state.db)
    parts = echo_server.app.extensions["voicebot.channels"].parts
    parts.understander(parts.flow())  # loaded before the first SMS (Twilio's helper waits 10 s)


def text(url: str, sender: str, body: str) -> list[str]:
    """Send one SMS as Twilio does; the bodies of the ``<Message>``s in the TwiML answer."""
    params = {"MessageSid": "SM" + "0" * 32, "AccountSid": ACCOUNT_SID, "From": sender, "To": "+15552220000", "Body": body}
    response = signed_post(url, "/twilio/sms", params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    return [m.text or "" for m in ET.fromstring(response.text).findall("Message")]


def counts(db) -> tuple[int, int]:
    with db.session() as s:
        return s.scalar(select(func.count(Conversation.id))), s.scalar(select(func.count(Message.id)))


def test_an_sms_conversation_runs_the_demo_flow_to_its_end(echo_server):
    url, phone = echo_server.url, "+15550003333"
    first = text(url, phone, "where is my order 6604")
    assert first == ["Hi Chloe, welcome back to Acme. Order 6 6 0 4 has shipped and arrives Monday. "
                     "Anything else? Pick a topic, or No to finish. "
                     "Reply with: Order status / Billing / Returns / Store hours / Recommendations / Main menu / No"]
    assert text(url, phone, "No") == ["One last thing. From 1 to 5, how did I do?"]
    assert text(url, phone, "5") == ["Thanks for the feedback. Thanks for contacting Acme. Goodbye!"]
    again = text(url, phone, "store hours")  # the last conversation ended: a new one begins
    assert again[0].startswith("Hi Chloe, welcome back to Acme. We're")


def test_unsigned_or_forged_requests_get_403_and_nothing_is_stored(echo_server):
    before = counts(echo_server.state.db)
    params = {"From": "+15550004444", "Body": "where is my order 4172", "MessageSid": "SM1"}
    unsigned = requests.post(echo_server.url + "/twilio/sms", data=params, timeout=10)
    forged = signed_post(echo_server.url, "/twilio/sms", params, token="not-the-token")
    assert (unsigned.status_code, forged.status_code) == (403, 403)
    assert counts(echo_server.state.db) == before


def test_stop_silences_the_number_until_start_and_help_explains(echo_server):
    url, phone = echo_server.url, "+15550005555"
    assert text(url, phone, "HELP") == [HELP]
    assert text(url, phone, " Stop ") == [STOPPED]
    before = counts(echo_server.state.db)
    assert text(url, phone, "where is my order 4172") == []
    assert text(url, phone, "help") == []
    assert counts(echo_server.state.db) == before  # an opted-out number's texts are not kept
    assert text(url, phone, "START") == [STARTED]
    assert text(url, phone, "store hours")[0].startswith("Welcome to Acme. We're")


def test_a_picture_without_words_is_told_only_text_is_read(echo_server):
    params = {"MessageSid": "MM" + "2" * 32, "AccountSid": ACCOUNT_SID, "From": "+15550008888", "To": "+15552220000",
              "Body": "", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1", "MediaContentType0": "image/jpeg"}
    response = signed_post(echo_server.url, "/twilio/sms", params)
    assert [m.text for m in ET.fromstring(response.text).findall("Message")] == [TEXT_ONLY]


def test_a_flood_from_one_number_gets_a_polite_line(echo_server):
    url, phone = echo_server.url, "+15550006666"
    replies = [text(url, phone, "store hours") for _ in range(9)]
    assert all(r and r[0] != POLITE_SLOW_DOWN for r in replies[:8])
    assert replies[8] == [POLITE_SLOW_DOWN]


def test_long_replies_split_after_sentences_within_the_limit():
    sentences = [f"Sentence number {i} says something moderately long about an order." for i in range(60)]
    parts = split_sms(" ".join(sentences))
    assert len(parts) == 3 and all(len(p) <= MAX_SMS_CHARS for p in parts)
    assert all(p.endswith("order.") for p in parts)  # every break falls after a sentence
    assert " ".join(parts) == " ".join(sentences)
    word_soup = "word " * 500
    assert [len(p) for p in split_sms(word_soup, 1000)] == [999, 999, 499]  # 200 words each, no word cut
    assert split_sms("x" * 3500) == ["x" * 1600, "x" * 1600, "x" * 300]
