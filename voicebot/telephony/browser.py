"""The browser softphone: ``WS /chat/voice``, a call from a web page's microphone into the same
``VoiceCallSession`` pipeline as phone calls (barge-in, endpointing, flows, speech).

Protocol (JSON text messages, audio as binary messages):
- the browser first sends ``{"type": "start", "format": "pcm_s16le", "sample_rate": 16000}``
  (any rate in ``RATES``; mono 16-bit little-endian PCM), optionally ``"phone"`` (the customer's
  number, linking the call to their history); then binary messages of that PCM (at most the
  app's WebSocket message size, 16 KB: 8192 samples), ``{"type": "dtmf", "digit"}``,
  ``{"type": "mark", "name"}`` (a bot prompt finished playing) and ``{"type": "hangup"}``;
- the server sends ``{"type": "ready", "call_sid", "sample_rate": 8000}``, the bot's audio as
  ``{"type": "audio", "sample_rate": 8000, "pcm": base64 int16}`` in 20 ms frames paced in real
  time, ``{"type": "mark", "name"}`` after each prompt (echo it when played), ``{"type": "clear"}``
  (the caller barged in: stop playback now), ``{"type": "transcript", "speaker", "text"}``
  (the call's lines as the session records them), ``{"type": "transfer", "destination",
  "reason"}``, ``{"type": "hangup"}`` and ``{"type": "error", "error"}``.
Wrong format or rate, audio before ``start``, or an odd byte count get an error message naming
what to send, and the socket closes (1003). The caller audio is resampled to 8 kHz
(``audio.resample.StreamResampler``) and cut into 20 ms frames, as a phone delivers it. The output side is the
Twilio channel's paced sender (``TwilioCallIO``) with this protocol's messages.
"""
from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time

import numpy as np
from flask import Blueprint, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from voicebot.audio.codecs import ulaw_decode
from voicebot.audio.resample import StreamResampler
from voicebot.errors import VoicebotError
from voicebot.audio.frames import Framer
from voicebot.session.base import FRAME_SAMPLES, SAMPLE_RATE
from voicebot.storage import calls
from voicebot.telephony.twilio.call_io import TwilioCallIO

log = logging.getLogger(__name__)

RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
UNSUPPORTED_DATA = 1003  # WebSocket close code: the data cannot be accepted
POLICY_VIOLATION = 1008
MAX_CALLS_PER_ADDRESS = 2
TOO_MANY = f"too many calls from this address at once (at most {MAX_CALLS_PER_ADDRESS}): hang up another call first"
FORMAT_HELP = (f"send {{\"type\": \"start\", \"format\": \"pcm_s16le\", \"sample_rate\": R}} first (R one of "
               f"{', '.join(map(str, RATES))}), then mono 16-bit little-endian PCM at that rate")


class BrowserProtocol:
    """The outbound messages (the serializer ``TwilioCallIO`` sends through)."""

    def media(self, ulaw: bytes) -> str:
        pcm = ulaw_decode(bytes(ulaw)).astype("<i2")
        return json.dumps({"type": "audio", "sample_rate": SAMPLE_RATE, "pcm": base64.b64encode(pcm.tobytes()).decode()})

    def mark(self, name: str) -> str:
        return json.dumps({"type": "mark", "name": name})

    def clear(self) -> str:
        return json.dumps({"type": "clear"})


class BrowserControl:
    """Transfer and hang-up for a browser call: tell the page (there is no carrier to ask)."""

    def __init__(self, send):
        self.send = send
        self.ended = False

    def transfer(self, call_sid: str, handoff) -> None:
        self.send(json.dumps({"type": "transfer", "destination": handoff.destination, "reason": handoff.reason}))
        self.ended = True

    def hangup(self, call_sid: str) -> None:
        self.send(json.dumps({"type": "hangup"}))
        self.ended = True


class BadAudio(VoicebotError):
    """The browser sent audio the softphone cannot take (the message says what to send)."""


def parse_start(message: dict) -> int:
    """The sample rate of a valid ``start`` message, or ``BadAudio``."""
    if message.get("type") != "start":
        raise BadAudio(f"expected a start message: {FORMAT_HELP}")
    if message.get("format") != "pcm_s16le":
        raise BadAudio(f"unsupported audio format {message.get('format')!r}: {FORMAT_HELP}")
    rate = message.get("sample_rate")
    if not isinstance(rate, int) or rate not in RATES:
        raise BadAudio(f"unsupported sample rate {rate!r}: {FORMAT_HELP}")
    return rate


class BrowserCall:
    """One softphone call over one WebSocket, from ``start`` to hang-up or a dropped socket."""

    def __init__(self, ws, state):
        self.ws, self.state = ws, state
        self.call_sid = "BR" + secrets.token_hex(16)
        self.rate = 0
        self.resampler: StreamResampler | None = None
        self.session = None
        self.io: TwilioCallIO | None = None
        self._send_lock = threading.Lock()
        self.control = BrowserControl(self.send)
        self.framer = Framer(FRAME_SAMPLES)  # inbound samples short of a whole frame wait here
        self.lines_sent = 0

    def send(self, message: str | bytes) -> None:
        """Send one message. Three threads send (the paced audio, the transcript poll in the socket's
        loop, the session's transfer or hang-up) and the socket's ``send`` is not thread-safe: one at a time."""
        with self._send_lock:
            self.ws.send(message)

    def run(self) -> None:
        reason = "socket closed"
        try:
            reason = self._loop()
        except BadAudio as exc:
            reason = "bad audio"
            self._refuse(str(exc))
        except ConnectionClosed:
            reason = "socket dropped"
        except Exception:
            reason = "error"
            log.exception("browser call %s failed", self.call_sid)
        finally:
            if self.io is not None:
                self.io.close()
            if self.session is not None:
                self.session.on_stop(reason)
                self._send_transcript()

    def _loop(self) -> str:
        first = self.ws.receive(timeout=10)
        if first is None:
            raise BadAudio(f"no start message within 10 s: {FORMAT_HELP}")
        if isinstance(first, bytes):
            raise BadAudio(f"audio before the start message: {FORMAT_HELP}")
        try:
            start = json.loads(first)
        except ValueError:
            raise BadAudio(f"the first message is not JSON: {FORMAT_HELP}") from None
        self.rate = parse_start(start if isinstance(start, dict) else {})
        self.resampler = StreamResampler(self.rate, SAMPLE_RATE)
        if not self.state.ready.is_set():
            raise BadAudio("the assistant is still loading its models: try again in a minute")
        phone = str(start.get("phone") or "")[:32]
        self.io = TwilioCallIO(self.call_sid, self.send, BrowserProtocol(), self.control)
        self.session = self.state.session_factory(self.call_sid, self.io, self.state)
        self.send(json.dumps({"type": "ready", "call_sid": self.call_sid, "sample_rate": SAMPLE_RATE}))
        self.session.start(phone, {"caller": phone, "channel": "browser"})
        last_poll = 0.0
        while not (self.control.ended and self.io.idle()):
            raw = self.ws.receive(timeout=0.25)
            if isinstance(raw, (bytes, bytearray)):
                self._audio(bytes(raw))
            elif raw is not None:
                ended = self._control(raw)
                if ended:
                    return ended
            if time.monotonic() - last_poll > 0.3:
                last_poll = time.monotonic()
                self._send_transcript()
        time.sleep(0.2)
        return "ended by the bot"

    def _audio(self, data: bytes) -> None:
        if len(data) % 2:
            raise BadAudio(f"an audio message of {len(data)} bytes is not 16-bit PCM: {FORMAT_HELP}")
        pcm = self.resampler.feed(np.frombuffer(data, dtype="<i2").astype(np.int16))
        for frame in self.framer.feed(pcm):
            self.session.on_audio(frame)

    def _control(self, raw: str) -> str | None:
        try:
            message = json.loads(raw)
        except ValueError:
            return None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "mark":
            self.session.on_mark(str(message.get("name", "")))
        elif kind == "dtmf" and str(message.get("digit", "")) in set("0123456789*#"):
            self.session.on_dtmf(str(message["digit"]))
        elif kind == "hangup":
            return "hangup"
        return None

    def _send_transcript(self) -> None:
        """The call's new lines, as the session stored them."""
        try:
            call = calls.load_call(self.state.db, self.call_sid)
        except VoicebotError:
            return
        lines = [t for t in (call or {}).get("transcript", []) if t["speaker"] in ("caller", "bot")]
        for line in lines[self.lines_sent:]:
            try:
                self.send(json.dumps({"type": "transcript", "speaker": line["speaker"], "text": line["text"]}))
            except ConnectionClosed:
                return
        self.lines_sent = len(lines)

    def _refuse(self, error: str) -> None:
        log.warning("browser call %s: %s", self.call_sid, error)
        try:
            self.send(json.dumps({"type": "error", "error": error}))
            self.ws.close(UNSUPPORTED_DATA, error[:120])
        except (ConnectionClosed, OSError):
            pass


def blueprint(state, per_address: int = MAX_CALLS_PER_ADDRESS) -> Blueprint:
    """``WS /chat/voice``; at most ``per_address`` calls at once from one client address (each
    holds a thread and a share of the recogniser): the next is told so and closed (1008)."""
    bp = Blueprint("browser_voice", __name__)
    active: dict[str, int] = {}
    lock = threading.Lock()

    @Sock().route("/chat/voice", bp=bp)
    def browser_voice(ws) -> None:
        address = request.remote_addr or "-"
        with lock:
            busy = active.get(address, 0) >= per_address
            if not busy:
                active[address] = active.get(address, 0) + 1
        if busy:
            log.warning("browser call from %s refused: %d calls already", address, per_address)
            ws.send(json.dumps({"type": "error", "error": TOO_MANY}))
            ws.close(POLICY_VIOLATION, TOO_MANY[:120])
            return
        try:
            BrowserCall(ws, state).run()
        finally:
            with lock:
                active[address] -= 1
                if not active[address]:
                    del active[address]

    return bp
