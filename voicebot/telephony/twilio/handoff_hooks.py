"""Twilio's webhooks during a warm transfer or a queue (TwiML in ``warm.py``), all signed like
``/twilio/voice`` (403 without a valid ``X-Twilio-Signature``):

- ``POST /twilio/handoff/hold``: the conference's ``waitUrl`` (hold audio for the caller);
  ``GET /twilio/handoff/hold.wav`` is that audio (a soft chime, no speech: nothing to transcribe).
- ``POST /twilio/handoff/agent?call=&transfer=``: the agent answered: say the call's summary
  (``handoff.context.spoken_summary`` of the stored context), then join the conference.
- ``POST /twilio/handoff/agent-status?call=&transfer=``: the agent call's final status. ``no-answer``,
  ``busy``, ``failed`` or ``canceled`` give the waiting caller back to the bot (REST update with
  ``resume_twiml``, ``resumed=transfer_failed``), so the caller is never left on hold for nobody.
- ``POST /twilio/handoff/queue-wait``: position announcement (``QueuePosition``) or ``<Leave/>``
  after ``VOICEBOT_QUEUE_MAX_WAIT_S`` (``QueueTime``).
- ``POST /twilio/handoff/queue-left?call=``: ``<Enqueue>``'s action: unless the caller was bridged
  to an agent (or hung up), back to the bot with ``resumed=queue_timeout``.
- ``POST /twilio/handoff/caller-left``: the caller's conference ended: hang up.
"""
from __future__ import annotations

import io
import logging
import wave

import numpy as np
from flask import Blueprint, Response, request

from voicebot.errors import StorageError, TelephonyError
from voicebot.handoff.context import spoken_summary
from voicebot.security.signatures import is_valid_twilio_request
from voicebot.storage import calls
from voicebot.storage.handoffs import reopen_stream
from voicebot.telephony.twilio import warm
from voicebot.telephony.twilio.context import TwilioAppContext

log = logging.getLogger(__name__)

GAVE_UP = ("no-answer", "busy", "failed", "canceled")  # the agent's leg ended without them answering
NOT_BRIDGED = ("leave", "error", "system-error", "redirected")  # QueueResult values that did not reach an agent


def hold_audio(seconds: float = 4.0, rate: int = 8000) -> bytes:
    """A quiet two-note chime with a rest, as 8 kHz mono 16-bit WAV bytes."""
    t = np.arange(int(rate * seconds)) / rate
    notes = np.where(t % 2.0 < 1.0, 523.25, 659.25) * (t % 1.0 < 0.6)
    envelope = np.exp(-3.0 * (t % 1.0))
    pcm = (2500 * envelope * np.sin(2 * np.pi * notes * t)).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


def blueprint(state: TwilioAppContext, stream_url) -> Blueprint:
    """The handoff webhooks; ``stream_url(public_url, request_url)`` is the Media Stream URL."""
    bp = Blueprint("twilio_handoff", __name__, url_prefix="/twilio/handoff")
    chime = hold_audio()

    def base() -> str:
        return (state.settings.public_url or request.host_url).rstrip("/")

    def twiml(text: str) -> Response:
        return Response(text, mimetype="text/xml")

    @bp.before_request
    def signed():
        if request.method == "POST" and not is_valid_twilio_request(request, state.settings.twilio_auth_token,
                                                                    state.settings.public_url):
            log.warning("%s: rejected request with a missing or invalid X-Twilio-Signature", request.path)
            return Response("invalid Twilio signature\n", status=403, mimetype="text/plain")
        return None

    def give_back(call_sid: str, reason: str) -> str:
        """The ``resume_twiml`` that reconnects ``call_sid`` to the bot."""
        token, caller, called = reopen_stream(state.db, call_sid)
        return warm.resume_twiml(stream_url(state.settings.public_url, request.url), token, caller, called, reason)

    @bp.get("/hold.wav")
    def hold_wav():
        return Response(chime, mimetype="audio/wav")

    @bp.post("/hold")
    def hold():
        return twiml(warm.hold_twiml(base()))

    @bp.post("/agent")
    def agent():
        call_sid = request.args.get("call", "")
        record = calls.load_transfer(state.db, int(request.args["transfer"])) if request.args.get("transfer", "").isdigit() else None
        summary = spoken_summary({"reason": record.get("reason"), **record["context"]}) \
            if record and isinstance(record.get("context"), dict) \
            else "A caller transferred by the assistant is waiting. No details were kept for this call."
        log.info("call %s: agent answered; whispering the summary", call_sid)
        return twiml(warm.agent_twiml(summary, call_sid))

    @bp.post("/agent-status")
    def agent_status():
        call_sid, status = request.args.get("call", ""), request.form.get("CallStatus", "")
        if not call_sid or not status:
            return Response("missing call or CallStatus\n", status=400, mimetype="text/plain")
        if status in GAVE_UP:
            try:
                state.rest().give_back(call_sid, give_back(call_sid, "transfer_failed"))
            except (StorageError, TelephonyError) as exc:
                log.error("call %s: agent %s and the caller could not be given back to the bot: %s", call_sid, status, exc)
                return Response(status=204)
            log.info("call %s: agent leg %s; caller back with the bot", call_sid, status)
        return Response(status=204)

    @bp.post("/queue-wait")
    def queue_wait():
        try:
            position = int(request.form.get("QueuePosition", "0") or 0)
            waited = float(request.form.get("QueueTime", "0") or 0)
        except ValueError:
            return Response("QueuePosition and QueueTime must be numbers\n", status=400, mimetype="text/plain")
        return twiml(warm.queue_wait_twiml(base(), position, waited, state.settings.queue_max_wait_s))

    @bp.post("/queue-left")
    def queue_left():
        call_sid = request.args.get("call", "") or request.form.get("CallSid", "")
        if request.form.get("QueueResult", "") in NOT_BRIDGED and call_sid:
            try:
                return twiml(give_back(call_sid, "queue_timeout"))
            except StorageError as exc:
                log.error("call %s left the queue and cannot be given back to the bot: %s", call_sid, exc)
        return twiml(warm.hangup_twiml())

    @bp.post("/caller-left")
    def caller_left():
        return twiml(warm.hangup_twiml())

    return bp
