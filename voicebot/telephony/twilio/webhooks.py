"""Twilio's HTTP webhooks: ``POST /twilio/voice`` (a call comes in) and ``POST /twilio/status``.

Both check ``X-Twilio-Signature`` against the auth token and the URL Twilio used
(``VOICEBOT_PUBLIC_URL`` + path when set, else the request URL); a bad or missing signature
gets 403 and nothing is stored. The voice webhook creates the call record and answers
``<Connect><Stream>`` to ``/twilio/media`` with a one-time token bound to the CallSid.

Replayed or stale requests get 409 and change nothing. A signature has no time in it, so what
can be refused is what Twilio's parameters allow (``storage.calls`` has the rules): a voice
webhook for a call that already streamed, ended, or began long ago; a status callback whose
``SequenceNumber`` is not newer than one recorded, or that repeats a final status, or whose
``Timestamp`` is older than ``STALE_AFTER_S``.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from voicebot import observability as metrics
from voicebot.errors import ReplayedRequestError
from voicebot.security.signatures import is_valid_twilio_request
from voicebot.storage import calls
from voicebot.telephony.twilio.context import TwilioAppContext
from voicebot.telephony.twilio.twiml import hangup_twiml, stream_twiml

log = logging.getLogger(__name__)

MEDIA_PATH = "/twilio/media"
NOT_READY_MESSAGE = "Sorry, our assistant is not available right now. Please call again in a few minutes."
STALE_AFTER_S = 1800.0  # a status callback Twilio says fired longer ago than this is not news


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


def _replayed(route: str, error: ReplayedRequestError) -> Response:
    metrics.WEBHOOKS.labels(route=route, outcome="replayed").inc()
    log.warning("%s: refused a signed request from %s: %s", route, request.remote_addr, error)
    return Response(f"refused: {error}\n", status=409, mimetype="text/plain")


def _event_time(value: str) -> datetime | None:
    """Twilio's ``Timestamp`` (RFC 2822) as an aware datetime; None when absent or unreadable."""
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=moment.tzinfo or timezone.utc) if moment else None


def _sequence(value: str) -> int | None:
    """Twilio's ``SequenceNumber`` (0, 1, 2, ...); None when absent or not a plausible one."""
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number < 2**31 else None


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
        try:
            token = calls.open_call(state.db, call_sid, caller, called)
        except ReplayedRequestError as exc:
            return _replayed("voice", exc)
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
        fired = _event_time(request.form.get("Timestamp", ""))
        try:
            if fired is not None and (datetime.now(timezone.utc) - fired).total_seconds() > STALE_AFTER_S:
                raise ReplayedRequestError(f"status callback for call {call_sid} fired at {fired.isoformat()}: stale")
            known = calls.record_status(state.db, call_sid, call_status, duration,
                                        sequence=_sequence(request.form.get("SequenceNumber", "")))
        except ReplayedRequestError as exc:
            return _replayed("status", exc)
        metrics.WEBHOOKS.labels(route="status", outcome="ok" if known else "unknown_call").inc()
        log.info("call %s status %s", call_sid, call_status)
        return Response(status=204)

    return bp
