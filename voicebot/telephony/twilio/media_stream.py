"""``WS /twilio/media``: Twilio's bidirectional Media Stream for one call (flask-sock).

Reads Twilio's messages in order and drives a ``CallSession``: ``start`` (the one-time token
from the voice webhook must match the CallSid and be unused, else the socket is closed),
``media`` (mu-law -> 20 ms int16 frames -> ``on_audio``), ``dtmf``, ``mark``, ``stop``.
Bad input never takes the server down: malformed JSON, unknown events, bad base64 and
out-of-order frames are logged with the CallSid and skipped; a dropped socket or a long
silence ends the call. Either way the session is stopped (it keeps what was said) and the
sender thread is joined, so nothing is left behind.

Hostile sockets: a message over ``MAX_MESSAGE_BYTES`` closes the socket (the app configures the
WebSocket server with it); a socket without a valid ``start`` within
``settings.stream_start_timeout_s``, or after ``MAX_MESSAGES_BEFORE_START`` messages, is closed
(code 1008, the reason as its message); at most ``settings.max_waiting_streams`` sockets wait
for their ``start`` at once, a newcomer evicting the longest waiting (``StreamGate``), so idle
sockets cannot hold the threads real calls need. With ``VOICEBOT_REQUIRE_STREAM_SIGNATURE``
the handshake itself must carry Twilio's ``X-Twilio-Signature`` (over the ``wss://`` URL of the
TwiML), else it is refused with 403 before the upgrade.
"""
from __future__ import annotations

import logging
import socket
import time

import numpy as np
from flask import Blueprint, Response, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from voicebot import observability as metrics
from voicebot.errors import TelephonyError, VoicebotError
from voicebot.security.signatures import SIGNATURE_HEADER, is_valid_signature
from voicebot.audio.frames import Framer
from voicebot.session.base import FRAME_SAMPLES
from voicebot.storage import calls
from voicebot.telephony.twilio.call_io import TwilioCallIO
from voicebot.telephony.twilio.context import TwilioAppContext
from voicebot.telephony.twilio.serializer import Connected, Dtmf, Mark, Media, Start, Stop, TwilioSerializer
from voicebot.telephony.twilio.stream_gate import StreamGate
from voicebot.telephony.twilio.webhooks import stream_url

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 20.0  # Twilio sends a frame every 20 ms; this long without one means it is gone
STOP_GRACE_S = 1.5  # after a REST transfer/hang-up Twilio stops the stream; close it if it does not
MAX_MESSAGE_BYTES = 16 * 1024  # Twilio's largest message, `start`, is well under 2 KB
MAX_MESSAGES_BEFORE_START = 8  # Twilio sends `connected`, then `start`
POLICY_VIOLATION = 1008  # WebSocket close code for sockets refused by these rules


def blueprint(state: TwilioAppContext) -> Blueprint:
    """``WS /twilio/media`` for the app whose context is ``state``."""
    bp = Blueprint("twilio_media", __name__)
    gate = StreamGate(state.settings.max_waiting_streams)

    @bp.before_request
    def signed_handshake():
        """With ``require_stream_signature``: refuse a handshake Twilio did not sign, before the upgrade."""
        if not state.settings.require_stream_signature:
            return None
        url = stream_url(state.settings.public_url, request.url)
        if is_valid_signature(url, {}, request.headers.get(SIGNATURE_HEADER, ""), state.settings.twilio_auth_token):
            return None
        metrics.ERRORS.labels(where="stream_signature").inc()
        log.warning("media stream handshake without a valid %s from %s: refused", SIGNATURE_HEADER, request.remote_addr)
        return Response("invalid Twilio signature\n", status=403, mimetype="text/plain")

    @Sock().route("/twilio/media", bp=bp)
    def media_stream(ws) -> None:
        """One call's Media Stream, from ``connected`` to ``stop`` or disconnect."""
        MediaStreamHandler(ws, state, gate).run()

    return bp


def _no_delay(ws) -> None:
    """Send each small frame at once: with Nagle's algorithm a frame written right after another
    (``clear`` then the next prompt) waits for the peer's delayed ACK, tens of milliseconds."""
    try:
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError):
        pass


class MediaStreamHandler:
    """The reader loop of one Media Stream and the teardown that always follows it."""

    def __init__(self, ws, state: TwilioAppContext, gate: StreamGate):
        self.ws = ws
        _no_delay(ws)
        self.state = state
        self.gate, self.ticket = gate, gate.admit()  # waits for its `start` from now on
        self.serializer = TwilioSerializer()
        self.call_sid = "-"
        self.session = None
        self.io: TwilioCallIO | None = None
        self.last_sequence: int | None = None
        self.framer = Framer(FRAME_SAMPLES)  # inbound samples short of a whole frame wait here
        self.ended_by_rest_at: float | None = None
        self.counted_active = False  # CALLS_ACTIVE was incremented for this stream

    def run(self) -> None:
        reason = "socket closed"
        try:
            reason = self._read_loop()
        except ConnectionClosed:
            reason = "socket dropped"
            log.warning("call %s: media socket dropped", self.call_sid)
        except Exception:  # never let one call's bug take the worker down
            reason = "error"
            metrics.ERRORS.labels(where="media_stream").inc()
            log.exception("call %s: media stream failed", self.call_sid)
        finally:
            self._teardown(reason)

    def _read_loop(self) -> str:
        opened = last_message = time.monotonic()
        before_start = 0
        while True:
            now = time.monotonic()
            if self.ended_by_rest_at is not None and now - self.ended_by_rest_at > STOP_GRACE_S:
                return "ended by REST (no stop from Twilio)"
            if self.session is None:
                refusal = self._unstarted(now - opened, before_start)
                if refusal:
                    return self._refuse(refusal)
            raw = self.ws.receive(timeout=0.2 if self.session is None else 1.0)
            if raw is None:
                if time.monotonic() - last_message >= IDLE_TIMEOUT_S:
                    log.warning("call %s: no message for %.0f s; closing", self.call_sid, IDLE_TIMEOUT_S)
                    return "idle timeout"
                continue
            last_message = time.monotonic()
            before_start += self.session is None
            try:
                message = self.serializer.parse(raw)
            except TelephonyError as exc:
                metrics.ERRORS.labels(where="media_message").inc()
                log.warning("call %s: skipped bad message: %s", self.call_sid, exc)
                continue
            if not self._in_order(message):
                continue
            if isinstance(message, Connected):
                continue
            if isinstance(message, Start):
                if not self._start(message):
                    return self._refuse("stream rejected")
                continue
            if self.session is None:
                log.warning("call %s: %s before start; skipped", self.call_sid, type(message).__name__.lower())
                continue
            if isinstance(message, Media):
                self._audio(message.pcm)
            elif isinstance(message, Dtmf):
                self.session.on_dtmf(message.digit)
            elif isinstance(message, Mark):
                self.session.on_mark(message.name)
            elif isinstance(message, Stop):
                return "hangup"

    def _unstarted(self, waited_s: float, messages: int) -> str:
        """Why a socket that has not started yet must close now ('' while it may still start)."""
        timeout_s = self.state.settings.stream_start_timeout_s
        if self.ticket.evicted:
            return "evicted: too many sockets waiting for their start"
        if waited_s > timeout_s:
            return f"no valid start within {timeout_s:g} s"
        if messages > MAX_MESSAGES_BEFORE_START:
            return f"{messages} messages without a valid start"
        return ""

    def _refuse(self, reason: str) -> str:
        """Close a socket that did not (validly) start, saying why; the reason.

        The TCP connection is shut down for reading and writing right after the close frame: a
        silent peer would otherwise make the server's own graceful close wait for it (gunicorn's
        gthread worker lingers up to 2 s per connection on its main thread, which stalled every
        new connection while an attacker's sockets were being closed)."""
        metrics.ERRORS.labels(where="stream_refused").inc()
        log.warning("call %s: media socket from %s closed: %s", self.call_sid,
                    getattr(self.ws, "environ", {}).get("REMOTE_ADDR"), reason)
        try:
            self.ws.close(POLICY_VIOLATION, reason)
        except (ConnectionClosed, OSError):
            pass
        try:
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass
        return reason

    def _in_order(self, message) -> bool:
        """Drop frames that arrive with a sequence number at or below one already seen."""
        sequence = getattr(message, "sequence", None)
        if sequence is None:
            return True
        if self.last_sequence is not None:
            if sequence <= self.last_sequence:
                metrics.ERRORS.labels(where="media_out_of_order").inc()
                log.warning("call %s: message %d after %d (out of order); skipped", self.call_sid, sequence, self.last_sequence)
                return False
            if sequence > self.last_sequence + 1:
                log.info("call %s: %d messages missing before %d", self.call_sid, sequence - self.last_sequence - 1, sequence)
        self.last_sequence = sequence
        return True

    def _start(self, start: Start) -> bool:
        if self.session is not None:
            log.warning("call %s: second start message; skipped", self.call_sid)
            return True
        self.call_sid = start.call_sid
        if not self.state.ready.is_set():
            log.error("call %s: models not loaded yet; rejecting the stream", start.call_sid)
            return False
        try:
            calls.claim_stream_token(self.state.db, start.call_sid, start.custom_parameters.get("token", ""))
        except TelephonyError as exc:
            metrics.ERRORS.labels(where="stream_token").inc()
            log.warning("call %s: stream rejected: %s", start.call_sid, exc)
            return False
        rest = self.state.rest()
        self.io = TwilioCallIO(start.call_sid, self.ws.send, self.serializer, rest,
                               on_ended=self._ended_by_rest)
        params = {k: v for k, v in start.custom_parameters.items() if k != "token"}
        params.update(stream_sid=start.stream_sid, account_sid=start.account_sid)
        try:
            self.session = self.state.session_factory(start.call_sid, self.io, self.state)
            self.session.start(params.get("caller", ""), params)
        except VoicebotError as exc:
            log.error("call %s: session could not start: %s", start.call_sid, exc)
            return False
        self.gate.release(self.ticket)
        metrics.CALLS_ACTIVE.inc()
        self.counted_active = True
        metrics.CALLS_TOTAL.labels(channel="twilio").inc()
        log.info("call %s: media stream %s started", start.call_sid, start.stream_sid)
        return True

    def _audio(self, pcm: np.ndarray) -> None:
        for frame in self.framer.feed(pcm):
            self.session.on_audio(frame)

    def _ended_by_rest(self, action: str) -> None:
        self.ended_by_rest_at = time.monotonic()

    def _teardown(self, reason: str) -> None:
        self.gate.release(self.ticket)
        if self.io is not None:
            self.io.close()
        if self.counted_active:
            metrics.CALLS_ACTIVE.dec()
        if self.session is not None:
            try:
                self.session.on_stop(reason)
            except Exception:
                metrics.ERRORS.labels(where="session_stop").inc()
                log.exception("call %s: session teardown failed", self.call_sid)
        if self.call_sid != "-":
            try:
                calls.note_stream_ended(self.state.db, self.call_sid, reason)
            except VoicebotError as exc:
                log.error("call %s: could not record the end of the stream: %s", self.call_sid, exc)
        log.info("call %s: media stream ended (%s)", self.call_sid, reason)
