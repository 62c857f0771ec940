"""The text-channel core: one ``TextConversation`` (the same ``Dialogue`` calls run) over the real
demo flow, understanding layer and an encrypted SQLite database; the flows' ``written`` wording;
quick replies from menus; one history per customer across channels and calls."""
from __future__ import annotations

import secrets
import textwrap

import pytest
from sqlalchemy import text as sql

from voicebot.actions import Say
from voicebot.channels.base import ChannelParts, TextConversation
from voicebot.channels.render import spoken, text_messages
from voicebot.config import PROJECT_ROOT
from voicebot.errors import FlowError
from voicebot.flows.engine import step
from voicebot.events import CallStarted
from voicebot.flows.loader import load_flow_text
from voicebot.storage import conversations as history
from voicebot.storage.timeline import timeline

DEMO = PROJECT_ROOT / "flows" / "retail_demo.yaml"


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    from tests.dialogue_driver import seeded_database

    return ChannelParts.for_flow(DEMO, seeded_database(tmp_path_factory.mktemp("channels")))


def new_chat(parts, channel="chat", **who) -> TextConversation:
    return TextConversation(parts, channel, secrets.token_urlsafe(16), **who)


def test_a_chat_offers_the_menu_as_quick_replies_and_answers_an_order_in_written_words(parts):
    chat = new_chat(parts)
    first = chat.start({"local_time": "2026-11-24T10:00"})
    assert [m.text for m in first] == ["Welcome to Acme.", "How can I help? Pick a topic, or type your order number."]
    assert first[-1].quick_replies == ("Order status", "Billing", "Returns", "Store hours", "Recommendations")
    assert chat.hear("Order status")[0].text == "Please type your order number."  # a tapped button: key 1, exactly
    replies = chat.hear("4172")
    assert [m.text for m in replies] == ["Order 4 1 7 2 has shipped and arrives Thursday.",
                                         "Anything else? Pick a topic, or No to finish."]
    assert "No" in replies[-1].quick_replies
    stored = chat.messages()
    assert [(m["speaker"], m["text"]) for m in stored][:4] == [
        ("bot", "Welcome to Acme."), ("bot", "How can I help? Pick a topic, or type your order number."),
        ("customer", "Order status"), ("bot", "Please type your order number.")]
    assert history.load(parts.db, chat.id)["topic"] is None  # a button press is no understood intent


def test_typed_words_are_understood_redacted_before_storage_and_encrypted(parts):
    chat = new_chat(parts)
    chat.start()
    chat.hear("where is my order, my email is ann@example.com")
    stored = [m["text"] for m in chat.messages() if m["speaker"] == "customer"]
    assert stored == ["where is my order, my email is [EMAIL]"]
    assert history.load(parts.db, chat.id)["topic"] == "order_status"
    with parts.db.engine.connect() as c:
        raw = " ".join(str(r[0]) for r in c.execute(sql("select text from conversation_messages")))
    assert "where is my order" not in raw and "Welcome to Acme" not in raw  # sealed at rest


def test_a_handoff_quiets_the_bot_keeps_the_customers_words_for_the_agent(parts):
    chat = new_chat(parts, kind="phone", address="+15550001111")
    assert chat.start()[0].text == "Hi Ana, welcome back to Acme."
    assert [m.text for m in chat.hear("I want to talk to a person")] == ["Connecting you to an agent."]
    assert chat.status == "agent"
    assert chat.hear("it is about my headphones") == []
    chat.agent_says("Hi Ana, I'm Sam. Let me check.")
    row = history.load(parts.db, chat.id)
    assert row["status"] == "agent" and row["handoff"]["reason"] == "agent_requested"
    assert row["handoff"]["context"]["customer"]["name"] == "Ana Lopez"
    assert [m["speaker"] for m in chat.messages()][-2:] == ["customer", "agent"]
    assert [c["id"] for c in history.waiting_for_agent(parts.db)].count(chat.id) == 1


def test_one_history_per_customer_links_channels_by_phone(parts):
    sms = new_chat(parts, "sms", kind="phone", address="(555) 000-2222")
    sms.start()
    sms.hear("what are your store hours")
    web = new_chat(parts, "chat", kind="chat", address="ben-login", phone="+15550002222")
    web.start()
    other = new_chat(parts, "sms", kind="phone", address="+15550009999")
    other.start()
    entries = timeline(parts.db, phone="+1 555 000 2222")
    assert {e["channel"] for e in entries} == {"sms", "chat"}
    assert other.id not in {e["conversation"] for e in entries}
    assert history.last_conversation(parts.db, "+15550002222")["channel"] == "chat"
    assert history.last_conversation(parts.db, "+15550002222")["found"] is True
    assert history.last_conversation(parts.db, "+15550007777") == {"found": False}


def test_written_wording_is_rendered_for_text_and_speech_stays_spoken():
    flow = load_flow_text(textwrap.dedent("""
        name: w
        start: hi
        nodes:
          hi: {type: say, text: "Hi {caller}, press 1.", written: "Hi {caller}, see https://acme.example/help.", next: bye}
          bye: {type: hangup}
        """))
    _, actions = step(flow, None, CallStarted("c1", "Ann"))
    say = actions[0]
    assert (say.text, say.written) == ("Hi Ann, press 1.", "Hi Ann, see https://acme.example/help.")
    message = text_messages([say], None)[0]
    assert (message.text, message.links) == ("Hi Ann, see https://acme.example/help.", ("https://acme.example/help",))
    assert spoken("See https://acme.example/help now \U0001F600") == "See now"
    assert text_messages([Say("Spoken only.")], None)[0].text == "Spoken only."


def test_written_wording_is_validated_like_spoken_text():
    with pytest.raises(FlowError) as caught:
        load_flow_text(textwrap.dedent("""
            name: w
            start: hi
            nodes:
              hi: {type: say, text: "Hi.", written: "Hi {nobody}.", next: bye}
              bye: {type: hangup}
            """))
    assert "node 'hi' uses 'nobody' before it is set" in str(caught.value)


def test_a_restarted_server_takes_an_open_chat_up_where_it_was(parts):
    from voicebot.channels.hub import ConversationHub

    before = ConversationHub(lambda: parts)
    chat, _ = before.start("chat")
    chat.hear("Order status")  # the bot now waits for the order number
    after = ConversationHub(lambda: parts)  # a new process: nothing in memory
    resumed = after.get(chat.id)
    assert resumed is not None and resumed is not chat
    assert [m.text for m in resumed.hear("4172")][0] == "Order 4 1 7 2 has shipped and arrives Thursday."
    assert [m["speaker"] for m in resumed.messages()].count("customer") == 2  # one history, continued
    assert after.get("no-such-conversation") is None
    resumed.close()
    assert ConversationHub(lambda: parts).get(chat.id) is None  # a closed conversation stays closed
