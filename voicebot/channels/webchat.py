"""Web chat: the JSON API the widget (``/static/chat/widget.js``) and a mobile app use, and the
WebSocket that pushes what the customer did not ask for (typing indicator, an agent's replies).

- ``POST /api/chat/sessions`` (optional ``{"phone": ..., "login": ...}``: who the customer says
  they are, linking this chat to that history; a typed phone is not trusted for personal data,
  see ``channels.base``) -> 201 ``{"id", "messages"}``;
- ``POST /api/chat/sessions/<id>/messages`` ``{"text"}`` -> ``{"received", "messages"}`` (the
  stored customer line and the bot's replies; none while a human has the chat);
- ``GET /api/chat/sessions/<id>/messages?after=N`` -> the stored lines after N (a reload);
- ``POST /api/chat/sessions/<id>/attachments`` (a PNG, JPEG, GIF or WebP picture as the body,
  at most ``MAX_PICTURE_BYTES``; the type is read from its bytes, not trusted from the header);
- ``WS /api/chat/sessions/<id>/socket?after=N``: replays the lines after N, then pushes
  ``{"type": "message", "message"}``, ``{"type": "typing", "on"}``, ``{"type": "status", "status"}``.

A message is ``{"id", "speaker" (customer/bot/agent), "text", "quick_replies", "links", "at"}``
(plus ``"attachment"`` for a picture). The session id (24 random bytes) is the credential, so the
API needs no cookie or CSRF token and answers any origin (CORS), like a mobile app's API.
Bad input gets a JSON ``{"error"}``: 400 (no text), 404 (unknown session), 413 (too long, too
big), 415 (not a picture), 429 (too many messages: with a polite bot line).
"""
from __future__ import annotations

import json
import queue

from flask import Blueprint, Response, jsonify, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from voicebot.channels.base import MAX_TEXT_CHARS, TextConversation
from voicebot.channels.hub import POLITE_SLOW_DOWN, ConversationHub
from voicebot.storage import conversations as history

MAX_PICTURE_BYTES = 5 * 1024 * 1024
PICTURE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                 (b"GIF89a", "image/gif"))


def picture_type(data: bytes) -> str | None:
    """The picture type ``data`` really is (PNG, JPEG, GIF, WebP), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in PICTURE_TYPES if data.startswith(magic)), None)


def api_message(stored: dict) -> dict:
    """A stored line as the API shows it."""
    details = stored.get("details") or {}
    body = {"id": stored["id"], "speaker": stored["speaker"], "text": stored["text"],
            "quick_replies": details.get("quick_replies", []), "links": details.get("links", []), "at": stored["at"]}
    if details.get("attachment"):
        body["attachment"] = details["attachment"]
    return body


def after_id(value: str) -> int:
    """``?after=N`` as a message id (0 when absent or not a plausible id)."""
    return int(value) if value.isdigit() and len(value) < 15 else 0


def _error(message: str, status: int, **extra) -> Response:
    response = jsonify(error=message, **extra)
    response.status_code = status
    return response


def blueprint(hub: ConversationHub) -> Blueprint:
    bp = Blueprint("webchat", __name__, url_prefix="/api/chat")

    @bp.after_request
    def cors(response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    def conversation(session_id: str) -> TextConversation | None:
        return hub.get(session_id)

    @bp.route("/sessions", methods=["POST", "OPTIONS"])
    def create():
        if request.method == "OPTIONS":
            return Response(status=204)
        if not hub.session_limiter.allow(f"chat-ip:{request.remote_addr}"):
            return _error("too many new chats from this address: please wait a minute", 429)
        body = request.get_json(silent=True) or {}
        phone, login = str(body.get("phone") or "")[:32], str(body.get("login") or "")[:128]
        chat, _ = hub.start("chat", kind="chat" if login else "", address=login, phone=phone)
        return jsonify(id=chat.id, status=chat.status, messages=[api_message(m) for m in chat.messages()]), 201

    @bp.route("/sessions/<session_id>/messages", methods=["GET", "POST", "OPTIONS"])
    def messages(session_id: str):
        if request.method == "OPTIONS":
            return Response(status=204)
        chat = conversation(session_id)
        if chat is None:
            return _error("no such chat session (it may have expired): start a new one", 404)
        if request.method == "GET":
            return jsonify(status=chat.status, messages=[api_message(m) for m in chat.messages(after_id(request.args.get("after", "")))])
        body = request.get_json(silent=True) or {}
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error('send {"text": "..."} with some words', 400)
        if len(text) > MAX_TEXT_CHARS:
            return _error(f"message too long: at most {MAX_TEXT_CHARS} characters", 413)
        if not hub.limiter.allow(f"chat:{session_id}"):
            return _error(POLITE_SLOW_DOWN, 429, messages=[{"id": None, "speaker": "bot", "text": POLITE_SLOW_DOWN,
                                                             "quick_replies": [], "links": [], "at": None}])
        return jsonify(converse(hub, chat, text))

    @bp.route("/sessions/<session_id>/attachments", methods=["POST", "OPTIONS"])
    def attach(session_id: str):
        if request.method == "OPTIONS":
            return Response(status=204)
        chat = conversation(session_id)
        if chat is None:
            return _error("no such chat session", 404)
        if (request.content_length or 0) > MAX_PICTURE_BYTES:
            return _error(f"picture too big: at most {MAX_PICTURE_BYTES // (1024 * 1024)} MB", 413)
        request.max_content_length = MAX_PICTURE_BYTES
        data = request.get_data(cache=False)
        kind = picture_type(data)
        if kind is None:
            return _error("only pictures can be attached (PNG, JPEG, GIF or WebP)", 415)
        if not hub.limiter.allow(f"chat:{session_id}"):
            return _error(POLITE_SLOW_DOWN, 429)
        with chat.lock:
            attachment_id = history.add_attachment(hub.db, chat.id, kind, data)
            stored = chat.record("customer", "[picture]", {"attachment": attachment_id, "content_type": kind})
        hub.publish(chat.id, {"type": "message", "message": api_message(stored)})
        return jsonify(received=api_message(stored)), 201

    @Sock().route("/sessions/<session_id>/socket", bp=bp)
    def socket(ws, session_id: str):
        chat = conversation(session_id)
        if chat is None:
            ws.send(json.dumps({"type": "error", "error": "no such chat session"}))
            ws.close(1008, "no such chat session")
            return
        events = hub.subscribe(chat.id)
        try:
            for stored in chat.messages(after_id(request.args.get("after", ""))):  # what was missed while away
                ws.send(json.dumps({"type": "message", "message": api_message(stored)}))
            ws.send(json.dumps({"type": "status", "status": chat.status}))
            while ws.connected:
                try:
                    ws.send(json.dumps(events.get(timeout=1.0)))
                except queue.Empty:
                    pass
        except ConnectionClosed:
            pass
        finally:
            hub.unsubscribe(chat.id, events)

    return bp


def converse(hub: ConversationHub, chat: TextConversation, text: str) -> dict:
    """One customer message: stored, pushed to listeners (the agent's page, other tabs), answered."""
    with chat.lock:
        mark = chat.last_id
        hub.publish(chat.id, {"type": "typing", "on": True})
        status = chat.status
        chat.hear(text)
        new = [api_message(m) for m in chat.messages(mark)]
        hub.publish(chat.id, {"type": "typing", "on": False})
    received = next((m for m in new if m["speaker"] == "customer"), None)
    replies = [m for m in new if m["speaker"] != "customer"]
    for message in new:
        hub.publish(chat.id, {"type": "message", "message": message})
    if chat.status != status:
        hub.publish(chat.id, {"type": "status", "status": chat.status})
    return {"received": received, "messages": replies, "status": chat.status}
