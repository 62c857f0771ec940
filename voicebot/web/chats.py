"""The chat pages: ``/chat`` (the customer's page: the chat widget and the browser softphone) and
the agent's side of handed-over text conversations, guarded like every agent page
(``web.agent.require_agent_access``):

- ``GET /agent/chats``: conversations waiting for a human (every text channel);
- ``GET /agent/chats/<id>``: one conversation: the bot's handoff context, the customer's earlier
  calls and conversations on every channel (one timeline), the lines, a reply box
  (``/static/chat/agent.js`` polls for new lines and posts replies with the CSRF token);
- ``GET|POST /agent/chats/<id>/messages``: the lines after ``?after=N`` / an agent's reply
  ``{"text"}``, pushed to the customer (chat WebSocket; SMS, email and WeChat replies are
  sent by their channel's ``deliver``);
- ``GET /agent/chats/<id>/attachments/<n>``: a picture the customer sent;
- ``GET /agent/timeline?phone=...`` (or ``kind=email&address=...``): the customer's ONE history,
  calls and every text channel on one timeline.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from voicebot.channels.webchat import after_id, api_message
from voicebot.storage import conversations as history
from voicebot.storage.timeline import timeline, timeline_of_conversation
from voicebot.web.agent import require_agent_access

page = Blueprint("chat_page", __name__)
agent = Blueprint("agent_chats", __name__, url_prefix="/agent")
agent.before_request(require_agent_access)


def hub():
    return current_app.extensions["voicebot.channels"]


@page.get("/chat")
def chat_page():
    return render_template("chat.html")


@agent.get("/chats")
def waiting_chats():
    return render_template("agent_chats.html", chats=history.waiting_for_agent(hub().db))


def _conversation(conversation_id: str) -> dict:
    found = history.load(hub().db, conversation_id)
    if found is None:
        abort(404, description="no such conversation")
    return found


@agent.get("/chats/<conversation_id>")
def chat_view(conversation_id: str):
    found = _conversation(conversation_id)
    earlier = [e for e in timeline_of_conversation(hub().db, conversation_id) if e["conversation"] != conversation_id]
    return render_template("agent_chat.html", chat=found, context=found["handoff"].get("context", {}), earlier=earlier)


@agent.route("/chats/<conversation_id>/messages", methods=["GET", "POST"])
def chat_messages(conversation_id: str):
    found = _conversation(conversation_id)
    if request.method == "GET":
        lines = history.messages(hub().db, conversation_id, after_id(request.args.get("after", "")))
        return jsonify(status=found["status"], channel=found["channel"], messages=[api_message(m) for m in lines])
    text = (request.get_json(silent=True) or {}).get("text")
    if not isinstance(text, str) or not text.strip():
        return jsonify(error='send {"text": "..."}'), 400
    live = hub().get(conversation_id)
    if live is None or live.status == "closed":
        return jsonify(error="this conversation is closed: the customer is no longer connected"), 409
    with live.lock:
        stored = live.agent_says(text)
    hub().publish(conversation_id, {"type": "message", "message": api_message(stored)})
    hub().deliver(live, stored)
    return jsonify(sent=api_message(stored)), 201


@agent.post("/chats/<conversation_id>/close")
def close_chat(conversation_id: str):
    _conversation(conversation_id)
    live = hub().get(conversation_id)
    if live is not None:
        with live.lock:
            live.close("agent_closed")
    else:
        history.update(hub().db, conversation_id, status="closed")
    hub().publish(conversation_id, {"type": "status", "status": "closed"})
    return jsonify(status="closed")


@agent.get("/chats/<conversation_id>/attachments/<int:attachment_id>")
def chat_attachment(conversation_id: str, attachment_id: int):
    found = history.load_attachment(hub().db, conversation_id, attachment_id)
    if found is None:
        abort(404, description="no such attachment")
    kind, data = found
    return Response(data, mimetype=kind, headers={"Cache-Control": "no-store"})


@agent.get("/timeline")
def customer_timeline():
    phone, kind, address = request.args.get("phone", ""), request.args.get("kind", ""), request.args.get("address", "")
    if not phone and not (kind and address):
        return jsonify(error="give ?phone=... or ?kind=email&address=..."), 400
    return jsonify(entries=timeline(hub().db, phone=phone, kind=kind, address=address))
