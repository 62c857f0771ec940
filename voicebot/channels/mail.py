"""Email: an inbound-parse webhook in, replies out over SMTP, one conversation per thread.

``POST /email/inbound?token=SECRET`` (or the ``X-Voicebot-Token`` header) takes the form fields
inbound-parse services post: SendGrid's (``from``, ``to``, ``subject``, ``text``, ``headers``: the
raw header block) or Mailgun's (``sender``, ``recipient``, ``subject``, ``body-plain``,
``Message-Id``, ``In-Reply-To``, ``References``). A wrong or missing token (or none configured:
``VOICEBOT_EMAIL_WEBHOOK_TOKEN``) gets 403 and nothing is stored.

Threading: every reply carries ``In-Reply-To`` and ``References`` of the customer's mail and a
``Message-ID`` of ours; a mail answering one of ours (``In-Reply-To``/``References``) continues that
conversation, as does a new mail from the same address while its conversation is open. Quoted
text ("> ..." and what follows "On ... wrote:") is dropped before the words are understood.
Replies go out through the configured SMTP server (``VOICEBOT_SMTP_HOST``/``_PORT``, optional
login and STARTTLS); a server that fails is logged and reported in the webhook's answer (202,
``"replied": false``): the customer's mail is already stored, nothing is lost.
"""
from __future__ import annotations

import hmac
import logging
import re
import smtplib
from email.message import EmailMessage
from email.parser import HeaderParser
from email.utils import make_msgid, parseaddr

from flask import Blueprint, jsonify, request

from voicebot.channels.base import MAX_TEXT_CHARS, TextConversation
from voicebot.channels.hub import POLITE_SLOW_DOWN, ConversationHub
from voicebot.channels.render import OutMessage
from voicebot.storage import conversations as history

log = logging.getLogger(__name__)

QUOTE_START = re.compile(r"^(>|On .+wrote:\s*$|-----Original Message-----|From: )", re.MULTILINE)
MESSAGE_IDS = re.compile(r"<[^<>\s]+>")


def fresh_text(body: str) -> str:
    """The new words of a mail: the part above the quoted previous mail, whitespace tidied."""
    match = QUOTE_START.search(body or "")
    return " ".join((body[: match.start()] if match else body or "").split())


def email_body(messages: list[OutMessage]) -> str:
    lines = [m.text for m in messages if m.text]
    choices = next((m.quick_replies for m in reversed(messages) if m.quick_replies), ())
    if choices:
        lines.append("You can reply with: " + ", ".join(choices) + ".")
    return "\n\n".join(lines) + "\n"


class Mailer:
    """Sends a conversation's replies over SMTP with the thread's headers."""

    def __init__(self, settings):
        self.settings = settings

    def send(self, conversation: TextConversation, body: str) -> None:
        """Mail ``body`` to the conversation's customer, in its thread; ``OSError``/``SMTPException`` on failure."""
        thread = history.load(conversation.parts.db, conversation.id)["thread"]
        domain = parseaddr(self.settings.email_from)[1].partition("@")[2] or "localhost"
        message = EmailMessage()
        message["From"] = self.settings.email_from
        message["To"] = thread["customer"]
        subject = thread.get("subject") or "Your question"
        message["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        message["Message-ID"] = ours = make_msgid(domain=domain)
        if thread.get("last"):
            message["In-Reply-To"] = thread["last"]
            message["References"] = " ".join(thread.get("references", []))
        message.set_content(body)
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(message)
        thread["ours"] = thread.get("ours", []) + [ours]
        history.update(conversation.parts.db, conversation.id, thread=thread)


def _inbound() -> dict:
    """The mail's fields, whichever inbound-parse shape posted them."""
    form = request.form
    headers = HeaderParser().parsestr(form.get("headers", "")) if form.get("headers") else {}

    def header(name: str) -> str:
        return form.get(name) or form.get(name.lower()) or (headers.get(name) if headers else None) or ""

    return {"from": parseaddr(form.get("from") or form.get("sender") or "")[1].lower(),
            "subject": form.get("subject", ""), "text": form.get("text") or form.get("body-plain") or "",
            "message_id": header("Message-Id").strip(), "in_reply_to": header("In-Reply-To"),
            "references": MESSAGE_IDS.findall(header("References"))}


def blueprint(state, hub: ConversationHub) -> Blueprint:
    bp = Blueprint("email_channel", __name__, url_prefix="/email")
    mailer = Mailer(state.settings)
    threads: dict[str, str] = {}  # a Message-ID of ours -> its conversation

    def deliver(conversation: TextConversation, stored: dict) -> None:  # an agent's reply
        try:
            mailer.send(conversation, stored["text"] + "\n")
        except (OSError, smtplib.SMTPException) as exc:
            log.error("email: the agent's reply could not be sent: %s", exc)
    hub.deliverers["email"] = deliver

    @bp.post("/inbound")
    def inbound():
        secret = state.settings.email_webhook_token
        given = request.args.get("token") or request.headers.get("X-Voicebot-Token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return jsonify(error="missing or wrong token"), 403
        mail = _inbound()
        if "@" not in mail["from"]:
            return jsonify(error="no sender address (from / sender)"), 400
        if not hub.limiter.allow(f"email:{mail['from']}"):
            return jsonify(error=POLITE_SLOW_DOWN), 429
        conversation = next((hub.get(threads[i]) for i in [mail["in_reply_to"].strip(), *mail["references"]]
                             if i in threads and hub.get(threads[i]) is not None), None)
        if conversation is None or conversation.status == "closed":
            conversation = hub.for_address("email", mail["from"])
        opening: list[OutMessage] = []
        if conversation is None:
            conversation, opening = hub.start("email", kind="email", address=mail["from"],
                                              thread={"customer": mail["from"], "subject": mail["subject"]})
            opening = [m for m in opening if not m.quick_replies]  # they already asked: answer that
        thread = history.load(hub.db, conversation.id)["thread"]
        if mail["message_id"]:
            thread.update(last=mail["message_id"], references=(mail["references"] or thread.get("references", []))[-10:]
                          + [mail["message_id"]])
        history.update(hub.db, conversation.id, thread=thread)
        words = fresh_text(mail["text"])
        with conversation.lock:
            if len(words) > MAX_TEXT_CHARS:
                replies = [OutMessage(f"Sorry, your mail is too long for me: please keep it under {MAX_TEXT_CHARS} "
                                      "characters, or ask for an agent.")]
            else:
                replies = conversation.hear(words or mail["subject"], {"message_id": mail["message_id"]})
        body = email_body(opening + replies)
        if not body.strip():
            return jsonify(conversation=conversation.id, replied=False), 200
        if not state.settings.smtp_host:
            return jsonify(conversation=conversation.id, replied=False, error="no SMTP server configured"), 202
        try:
            mailer.send(conversation, body)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("email: reply to conversation %s could not be sent: %s", conversation.id[:8], exc)
            return jsonify(conversation=conversation.id, replied=False, error=f"SMTP: {exc}"), 202
        for ours in history.load(hub.db, conversation.id)["thread"].get("ours", []):
            threads[ours] = conversation.id
        return jsonify(conversation=conversation.id, replied=True), 200

    return bp
