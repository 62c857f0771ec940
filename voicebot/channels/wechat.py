"""WeChat Official Account: the documented server-URL message webhook (plain-text mode).

- ``GET /wechat?signature&timestamp&nonce&echostr``: the server-URL check; answers ``echostr``
  when ``signature == sha1("".join(sorted([token, timestamp, nonce])))`` (the Token configured
  in the account and in ``VOICEBOT_WECHAT_TOKEN``), else 403.
- ``POST /wechat?signature&timestamp&nonce``: a message as XML (``ToUserName``, ``FromUserName``:
  the customer's OpenID, ``CreateTime``, ``MsgType``, ``Content``, ``MsgId``), signed the same
  way (bad signature: 403, nothing stored). A text message gets a passive text reply in XML;
  a ``subscribe`` event gets the greeting; other kinds (voice, image, ...) a line saying only
  text is read here. WeChat retries a message it got no answer to within 5 s: a repeated
  ``MsgId`` gets the same reply again, and is not heard twice.
- Handoff: a conversation handed to a human gets ``success`` (WeChat's "no reply"); the agent's
  replies wait and go out as the passive reply to the customer's next message (sending them at
  once needs the account's customer-service API and an access token, not configured here).
XML is parsed with defusedxml (no entity expansion), bodies are small (the app's size limit).
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict, defaultdict
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from flask import Blueprint, Response, request

from voicebot.channels.base import MAX_TEXT_CHARS, TextConversation
from voicebot.channels.hub import POLITE_SLOW_DOWN, ConversationHub
from voicebot.channels.render import OutMessage, plain_text

MAX_REPLY_BYTES = 2048  # WeChat's limit for a text reply's content
TEXT_ONLY = "Sorry, I can only read text messages here. Please type your question."
REMEMBERED_MSG_IDS = 1000


def signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's signature of a request: sha1 of the sorted, joined token, timestamp and nonce."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode("utf-8")).hexdigest()


def text_reply(to_user: str, from_user: str, content: str, now: int | None = None) -> str:
    """The XML of a passive text reply."""
    content = _fit(content)
    return ("<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName>"
            "<CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{}]]></Content></xml>"
            ).format(_cdata(to_user), _cdata(from_user), int(now if now is not None else time.time()), _cdata(content))


def _fit(content: str) -> str:
    """``content`` cut (at a line, else a character) to WeChat's ``MAX_REPLY_BYTES``."""
    if len(content.encode("utf-8")) <= MAX_REPLY_BYTES:
        return content
    lines, out = content.split("\n"), ""
    for line in lines:
        joined = f"{out}\n{line}" if out else line
        if len(joined.encode("utf-8")) > MAX_REPLY_BYTES - 3:
            break
        out = joined
    return (out or content.encode("utf-8")[: MAX_REPLY_BYTES - 3].decode("utf-8", "ignore")) + "..."


def _cdata(value: str) -> str:
    return value.replace("]]>", "]]]]><![CDATA[>")


def blueprint(state, hub: ConversationHub) -> Blueprint:
    bp = Blueprint("wechat", __name__)
    answered: OrderedDict[str, str] = OrderedDict()  # MsgId -> the reply sent (WeChat retries)
    waiting: dict[str, list[str]] = defaultdict(list)  # OpenID -> agent replies not yet delivered

    def deliver(conversation: TextConversation, stored: dict) -> None:
        waiting[conversation.address].append(stored["text"])
    hub.deliverers["wechat"] = deliver

    def signed() -> bool:
        token = state.settings.wechat_token
        args = request.args
        given = args.get("signature", "")
        return bool(token) and hmac.compare_digest(given, signature(token, args.get("timestamp", ""), args.get("nonce", "")))

    @bp.get("/wechat")
    def verify():
        if not signed():
            return Response("invalid signature\n", status=403, mimetype="text/plain")
        return Response(escape(request.args.get("echostr", "")), mimetype="text/plain")

    @bp.post("/wechat")
    def message():
        if not signed():
            return Response("invalid signature\n", status=403, mimetype="text/plain")
        try:
            xml = ElementTree.fromstring(request.get_data(cache=False))
        except Exception:  # defusedxml refuses entities; expat refuses broken XML
            return Response("unreadable XML message\n", status=400, mimetype="text/plain")
        field = lambda name: (xml.findtext(name) or "").strip()  # noqa: E731
        customer, account, kind = field("FromUserName"), field("ToUserName"), field("MsgType").lower()
        if not customer:
            return Response("missing FromUserName\n", status=400, mimetype="text/plain")
        msg_id = field("MsgId")
        if msg_id and msg_id in answered:
            return _xml(answered[msg_id])
        reply = _answer(customer, kind, field("Content"), field("Event").lower())
        if reply is None:
            return Response("success", mimetype="text/plain")
        body = text_reply(customer, account, reply)
        if msg_id:
            answered[msg_id] = body
            while len(answered) > REMEMBERED_MSG_IDS:
                answered.popitem(last=False)
        return _xml(body)

    def _answer(customer: str, kind: str, content: str, event: str) -> str | None:
        """The reply text, or None for no reply."""
        if not hub.limiter.allow(f"wechat:{customer}"):
            return POLITE_SLOW_DOWN
        conversation = hub.for_address("wechat", customer)
        if kind == "event":
            if event != "subscribe":
                return None
            conversation, opening = hub.start("wechat", kind="wechat", address=customer)
            return plain_text(opening, "\n")
        if kind != "text":
            return TEXT_ONLY
        if len(content) > MAX_TEXT_CHARS:
            return f"Sorry, that message is too long for me. Please keep it under {MAX_TEXT_CHARS} characters."
        opening: list[OutMessage] = []
        if conversation is None:
            conversation, opening = hub.start("wechat", kind="wechat", address=customer)
            opening = [m for m in opening if not m.quick_replies]
        with conversation.lock:
            replies = conversation.hear(content)
            pending = waiting.pop(customer, [])
        text = plain_text(opening + replies + [OutMessage(t) for t in pending], "\n")
        return text or None

    return bp


def _xml(body: str) -> Response:
    return Response(body, mimetype="application/xml")
