"""Twilio's HTTP webhooks: ``POST /twilio/voice`` (a call comes in) and ``POST /twilio/status``.

Both check ``X-Twilio-Signature`` against the auth token and the URL Twilio used
(``VOICEBOT_PUBLIC_URL`` + path when set, else the request URL); a bad or missing signature
gets 403 and nothing is stored. The voice webhook creates the call record and answers
``<Connect><Stream>`` to ``/twilio/media`` with a one-time token bound to the CallSid.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from voicebot import observability as metrics
from voicebot.security.signatures import is_valid_twilio_request
from voicebot.storage import calls
from voicebot.telephony.twilio.context import TwilioAppContext
from voicebot.telephony.twilio.twiml import hangup_twiml, stream_twiml

log = logging.getLogger(__name__)

MEDIA_PATH = "/twilio/media"
NOT_READY_MESSAGE = "Sorry, our assistant is not available right now. Please call again in a few minutes."


def stream_url(public_url: str, request_url: str) -> str:
    """``wss://<public host>/twilio/media`` (``ws://`` when the public URL is plain http)."""
    parts = urlsplit(public_url or request_url)
    scheme = "ws" if parts.scheme == "http" else "wss"
    prefix = urlsplit(public_url).path.rstrip("/") if public_url else ""
    return f"{scheme}://{parts.netloc}{prefix}{MEDIA_PATH}"


def _forbidden(route: str) -> Response:
    metrics.WEBHOOKS.labels(route=route, outcome="forbidden").inc()
    log.warning("%s: rejected request with a missing or invalid X-Twilio-Signature from %s", route, request.remote_addr)
    return Response("invalid Twilio signature\n", status=403, mimetype="text/plain")


def blueprint(state: TwilioAppContext) -> Blueprint:
    """``/twilio/voice`` and ``/twilio/status`` for the app whose context is ``state``."""
    bp = Blueprint("twilio_webhooks", __name__, url_prefix="/twilio")

    def signed() -> bool:
        return is_valid_twilio_request(request, state.settings.twilio_auth_token, state.settings.public_url)

    @bp.post("/voice")
    def voice() -> Response:
        """An incoming call: record it and connect its audio to our Media Stream."""
        if not signed():
            return _forbidden("voice")
        call_sid = request.form.get("CallSid", "")
        if not call_sid:
            metrics.WEBHOOKS.labels(route="voice", outcome="bad_request").inc()
            return Response("missing CallSid\n", status=400, mimetype="text/plain")
        caller, called = request.form.get("From", ""), request.form.get("To", "")
        token = calls.open_call(state.db, call_sid, caller, called)
        if not state.ready.is_set():
            metrics.WEBHOOKS.labels(route="voice", outcome="not_ready").inc()
            log.error("call %s: models not loaded (%s); asking the caller to call back", call_sid, state.load_error or "loading")
            return Response(hangup_twiml(NOT_READY_MESSAGE), mimetype="text/xml")
        twiml = stream_twiml(stream_url(state.settings.public_url, request.url),
                             {"token": token, "caller": caller, "called": called})
        metrics.WEBHOOKS.labels(route="voice", outcome="ok").inc()
        log.info("call %s from %s to %s: connecting media stream", call_sid, caller, called)
        return Response(twiml, mimetype="text/xml")

    @bp.post("/status")
    def status() -> Response:
        """Twilio's status callback: record how the call ended (CallStatus, CallDuration)."""
        if not signed():
            return _forbidden("status")
        call_sid = request.form.get("CallSid", "")
        call_status = request.form.get("CallStatus", "")
        if not call_sid or not call_status:
            metrics.WEBHOOKS.labels(route="status", outcome="bad_request").inc()
            return Response("missing CallSid or CallStatus\n", status=400, mimetype="text/plain")
        try:
            duration = float(request.form["CallDuration"]) if request.form.get("CallDuration") else None
        except ValueError:
            duration = None
        known = calls.record_status(state.db, call_sid, call_status, duration)
        metrics.WEBHOOKS.labels(route="status", outcome="ok" if known else "unknown_call").inc()
        log.info("call %s status %s", call_sid, call_status)
        return Response(status=204)

    return bp
