"""Email conversations through the real app on a real server: mails posted to the inbound webhook
(SendGrid and Mailgun shapes), replies received by a real local SMTP server (aiosmtpd), the
thread kept across mails, the webhook's token, an agent's reply by mail."""
from __future__ import annotations

import email
import socket
import threading
import time

import pytest
import requests
from aiosmtpd.controller import Controller

from voicebot.storage import conversations as history
from voicebot.storage.seed import seed_demo
from voicebot.testing.live_server import LiveServer

TOKEN = "email-hook-secret"


class Inbox:
    """An aiosmtpd handler keeping every mail it receives."""

    def __init__(self):
        self.mails: list[email.message.Message] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        with self.arrived:
            self.mails.append(email.message_from_bytes(envelope.content))
            self.arrived.notify_all()
        return "250 OK"

    def wait(self, count: int, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.mails) < count and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
        assert len(self.mails) >= count, f"only {len(self.mails)} mails arrived"
        return self.mails[:count]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mail_world(echo_app_factory):
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    app, _ = echo_app_factory(smtp_host="127.0.0.1", smtp_port=port, email_webhook_token=TOKEN,
                              email_from="Acme Support <support@acme.example>")
    seed_demo(app.extensions["voicebot"].db)
    with LiveServer(app) as server:
        yield server.url, inbox, app
    smtp.stop()


def post_mail(url: str, **fields) -> requests.Response:
    return requests.post(f"{url}/email/inbound?token={TOKEN}", data=fields, timeout=120)


def body_of(mail) -> str:
    return mail.get_payload(decode=True).decode().replace("\r\n", "\n").strip()  # CRLF on the wire


def test_a_mail_thread_is_one_conversation_answered_over_smtp(mail_world):
    url, inbox, app = mail_world
    first = post_mail(url, **{"from": "Ana Lopez <Ana@Example.com>", "to": "support@acme.example",
                              "subject": "My order", "text": "Hello, where is my order 4172?\n\nThanks, Ana",
                              "headers": "Message-Id: <m1@example.com>\nSubject: My order\n"})
    assert first.status_code == 200 and first.json()["replied"] is True, first.text
    reply = inbox.wait(1)[0]
    assert (reply["To"], reply["Subject"], reply["In-Reply-To"]) == ("ana@example.com", "Re: My order", "<m1@example.com>")
    assert body_of(reply) == ("Welcome to Acme.\n\nOrder 4 1 7 2 has shipped and arrives Thursday.\n\n"
                              "Anything else? Pick a topic, or No to finish.\n\n"
                              "You can reply with: Order status, Billing, Returns, Store hours, Recommendations, Main menu, No.")
    second = post_mail(url, sender="ana@example.com", recipient="support@acme.example", subject="Re: My order",
                       **{"body-plain": "What are your store hours?\n\nOn Tue, Acme wrote:\n> Order 4 1 7 2 has shipped",
                          "Message-Id": "<m2@example.com>", "In-Reply-To": reply["Message-ID"],
                          "References": f"<m1@example.com> {reply['Message-ID']}"})
    assert second.json()["conversation"] == first.json()["conversation"]  # the same thread, the same conversation
    answer = inbox.wait(2)[1]
    assert answer["In-Reply-To"] == "<m2@example.com>"
    assert answer["References"].split() == ["<m1@example.com>", reply["Message-ID"], "<m2@example.com>"]
    assert body_of(answer).startswith("We're")
    db = app.extensions["voicebot"].db
    said = [m["text"] for m in history.messages(db, first.json()["conversation"]) if m["speaker"] == "customer"]
    assert said == ["Hello, where is my order 4172? Thanks, Ana", "What are your store hours?"]  # quotes dropped


def test_the_webhook_needs_its_token_and_stores_nothing_without_it(mail_world):
    url, _, app = mail_world
    db = app.extensions["voicebot"].db
    before = history.conversations_of(db, kind="email", address="eve@example.com")
    fields = {"from": "eve@example.com", "subject": "hi", "text": "where is my order 4172"}
    assert requests.post(f"{url}/email/inbound", data=fields, timeout=10).status_code == 403
    assert requests.post(f"{url}/email/inbound?token=wrong", data=fields, timeout=10).status_code == 403
    assert history.conversations_of(db, kind="email", address="eve@example.com") == before == []
    header = requests.post(f"{url}/email/inbound", data=fields, headers={"X-Voicebot-Token": TOKEN}, timeout=60)
    assert header.status_code == 200
    no_sender = post_mail(url, subject="hi", text="hello")
    assert (no_sender.status_code, no_sender.json()["error"]) == (400, "no sender address (from / sender)")


def test_an_agent_answers_a_handed_over_mail_by_mail(mail_world):
    url, inbox, app = mail_world
    count = len(inbox.mails)
    handed = post_mail(url, **{"from": "ben@example.com", "subject": "Refund", "text": "I want to talk to a person",
                               "headers": "Message-Id: <b1@example.com>\n"})
    assert body_of(inbox.wait(count + 1)[count]) == "Welcome to Acme.\n\nConnecting you to an agent."
    conversation = handed.json()["conversation"]
    hub = app.extensions["voicebot.channels"]
    live = hub.get(conversation)
    assert live.status == "agent"
    hub.deliver(live, live.agent_says("Hi Ben, Sam here. I'll refund the charge today."))
    mail = inbox.wait(count + 2)[count + 1]
    assert (body_of(mail), mail["In-Reply-To"]) == ("Hi Ben, Sam here. I'll refund the charge today.", "<b1@example.com>")
