"""SMS through Twilio's messaging webhook: ``POST /twilio/sms`` answers with TwiML ``<Message>``s.

- Signed like the voice webhook (``X-Twilio-Signature`` over ``VOICEBOT_PUBLIC_URL`` + path, or
  the request URL): unsigned or badly signed requests get 403 and nothing is stored.
- Carrier keywords (the whole message, any case): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT
  opt the number out (remembered in ``storage.conversations``; one confirmation, then silence
  whatever it sends); START, YES, UNSTOP opt it back in; HELP, INFO say who we are and how to stop.
- One conversation per number while it is open (``ConversationHub.for_address``); a first
  message is answered directly (the greeting's menu question is skipped: the customer already
  said what they want). Menu choices become a "Reply with: ..." line (SMS has no buttons).
- Long replies are split at sentence boundaries (words, if one sentence is too long) into
  messages of at most ``MAX_SMS_CHARS`` (Twilio's limit for one message; carriers deliver it as
  up to 10 segments of 153 GSM-7 or 67 UCS-2 characters, joined on the phone).
- A flood from one number (``ConversationHub.limiter``) gets one polite line; an oversized
  message a clear one; a conversation with a human gets no bot reply (the agent answers).
"""
from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from voicebot.channels.base import MAX_TEXT_CHARS
from voicebot.channels.hub import POLITE_SLOW_DOWN, ConversationHub
from voicebot.channels.render import OutMessage, plain_text
from voicebot.security.signatures import is_valid_twilio_request
from voicebot.storage import conversations as history

log = logging.getLogger(__name__)

MAX_SMS_CHARS = 1600
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit"}
START_WORDS = {"start", "yes", "unstop"}
HELP_WORDS = {"help", "info"}
STOPPED = "You have been unsubscribed from Acme messages and will not receive any more. Reply START to resubscribe."
STARTED = "You have been resubscribed to Acme messages. Reply HELP for help, STOP to unsubscribe."
HELP = "Acme customer service: text your question or order number. Msg&data rates may apply. Reply STOP to unsubscribe."
TEXT_ONLY = "Sorry, I can only read text messages here. Please type your question."
TOO_LONG = f"Sorry, that message is too long for me. Please keep it under {MAX_TEXT_CHARS} characters."
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sms(text: str, limit: int = MAX_SMS_CHARS) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, broken after sentences where possible."""
    parts: list[str] = []
    current = ""
    for sentence in (p for p in SENTENCE_END.split(text.strip()) if p):
        pieces = [sentence] if len(sentence) <= limit else _by_words(sentence, limit)
        for piece in pieces:
            joined = f"{current} {piece}" if current else piece
            if len(joined) <= limit:
                current = joined
            else:
                parts.append(current)
                current = piece
    return parts + [current] if current else parts


def _by_words(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, broken between words (inside a too long word)."""
    out: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(word[:limit])
            word = word[limit:]
        joined = f"{current} {word}" if current else word
        if len(joined) <= limit:
            current = joined
        else:
            out.append(current)
            current = word
    return out + [current] if current else out


def twiml(texts: list[str]) -> Response:
    reply = MessagingResponse()
    for text in texts:
        for part in split_sms(text):
            reply.message(part)
    return Response(str(reply), mimetype="text/xml")


def blueprint(state, hub: ConversationHub) -> Blueprint:
    """``POST /twilio/sms`` for the app whose settings are ``state.settings``."""
    bp = Blueprint("twilio_sms", __name__, url_prefix="/twilio")

    @bp.post("/sms")
    def sms() -> Response:
        settings = state.settings
        if not is_valid_twilio_request(request, settings.twilio_auth_token, settings.public_url):
            log.warning("sms: rejected a request with a missing or invalid X-Twilio-Signature from %s", request.remote_addr)
            return Response("invalid Twilio signature\n", status=403, mimetype="text/plain")
        sender, body = request.form.get("From", ""), request.form.get("Body", "")
        if not sender:
            return Response("missing From\n", status=400, mimetype="text/plain")
        media = request.form.get("NumMedia", "0")
        return twiml(answer(hub, sender, body, request.form.get("MessageSid", ""), int(media) if media.isdigit() else 0))

    return bp


def answer(hub: ConversationHub, sender: str, body: str, message_sid: str = "", media: int = 0) -> list[str]:
    """The texts to send back for one incoming SMS (empty: send nothing); ``media``: pictures attached (MMS)."""
    db = hub.db
    keyword = body.strip().lower()
    if keyword in STOP_WORDS:
        history.set_opt_out(db, "sms", "phone", sender, True)
        return [STOPPED]
    if keyword in START_WORDS and history.is_opted_out(db, "sms", "phone", sender):
        history.set_opt_out(db, "sms", "phone", sender, False)
        return [STARTED]
    if history.is_opted_out(db, "sms", "phone", sender):
        return []  # opted out: carriers require silence
    if keyword in HELP_WORDS:
        return [HELP]
    if not hub.limiter.allow(f"sms:{sender}"):
        return [POLITE_SLOW_DOWN]
    if len(body) > MAX_TEXT_CHARS:
        return [TOO_LONG]
    if not body.strip():
        return [TEXT_ONLY] if media else []
    conversation = hub.for_address("sms", sender)
    opening: list[OutMessage] = []
    if conversation is None:
        conversation, opening = hub.start("sms", kind="phone", address=sender)
        opening = [m for m in opening if not m.quick_replies]  # the menu question: they already asked
    with conversation.lock:
        replies = conversation.hear(body, {"message_sid": message_sid} if message_sid else None)
    text = plain_text(opening + replies, " ")
    return [text] if text else []
