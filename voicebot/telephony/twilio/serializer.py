"""One class that converts Twilio Media Streams messages to typed values and back.

Inbound (Twilio -> us): ``connected``, ``start``, ``media``, ``dtmf``, ``mark``, ``stop``.
Outbound (us -> Twilio): ``media``, ``mark``, ``clear``. Payloads are base64 G.711 mu-law at
8 kHz. Swapping carriers means swapping this class; it never does I/O or REST.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

import numpy as np

from voicebot.audio.codecs import ulaw_decode, ulaw_encode
from voicebot.errors import TelephonyError

DTMF_DIGITS = set("0123456789*#ABCD")


@dataclass(frozen=True)
class Connected:
    protocol: str = "Call"


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str = ""
    custom_parameters: dict[str, str] = field(default_factory=dict)
    media_format: dict = field(default_factory=dict)
    sequence: int | None = None


@dataclass(frozen=True)
class Media:
    pcm: np.ndarray  # int16, 8 kHz
    chunk: int | None = None
    timestamp_ms: int | None = None
    sequence: int | None = None


@dataclass(frozen=True)
class Dtmf:
    digit: str
    sequence: int | None = None


@dataclass(frozen=True)
class Mark:
    name: str
    sequence: int | None = None


@dataclass(frozen=True)
class Stop:
    call_sid: str = ""
    sequence: int | None = None


Inbound = Connected | Start | Media | Dtmf | Mark | Stop


class TwilioSerializer:
    """Parse Twilio's inbound JSON into ``Inbound`` values; build outbound JSON for a stream.

    ``parse`` raises ``TelephonyError`` (one line, no payload echoed) for malformed JSON,
    unknown events, missing fields, bad base64 or a non-mu-law media format.
    """

    def __init__(self, stream_sid: str = ""):
        self.stream_sid = stream_sid

    # inbound -----------------------------------------------------------------------------
    def parse(self, raw: str | bytes) -> Inbound:
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TelephonyError(f"malformed JSON message ({exc.__class__.__name__})") from None
        if not isinstance(message, dict):
            raise TelephonyError("message is not a JSON object")
        event = message.get("event")
        sequence = _int_or_none(message.get("sequenceNumber"))
        if event == "connected":
            return Connected(protocol=str(message.get("protocol", "Call")))
        if event == "start":
            return self._parse_start(message, sequence)
        if event == "media":
            body = _section(message, "media")
            payload = body.get("payload")
            if not isinstance(payload, str):
                raise TelephonyError("media message without a payload")
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise TelephonyError("media payload is not valid base64") from None
            return Media(ulaw_decode(data), _int_or_none(body.get("chunk")), _int_or_none(body.get("timestamp")), sequence)
        if event == "dtmf":
            digit = str(_section(message, "dtmf").get("digit", ""))
            if digit not in DTMF_DIGITS:
                raise TelephonyError(f"dtmf message with an invalid digit {digit[:8]!r}")
            return Dtmf(digit, sequence)
        if event == "mark":
            name = _section(message, "mark").get("name")
            if not isinstance(name, str):
                raise TelephonyError("mark message without a name")
            return Mark(name, sequence)
        if event == "stop":
            body = message.get("stop") if isinstance(message.get("stop"), dict) else {}
            return Stop(str(body.get("callSid", "")), sequence)
        raise TelephonyError(f"unknown event {str(event)[:32]!r}")

    def _parse_start(self, message: dict, sequence: int | None) -> Start:
        body = _section(message, "start")
        stream_sid = body.get("streamSid") or message.get("streamSid")
        call_sid = body.get("callSid")
        if not stream_sid or not call_sid:
            raise TelephonyError("start message without streamSid or callSid")
        media_format = body.get("mediaFormat") or {}
        encoding = str(media_format.get("encoding", "audio/x-mulaw"))
        rate = _int_or_none(media_format.get("sampleRate")) or 8000
        if encoding != "audio/x-mulaw" or rate != 8000:
            raise TelephonyError(f"unsupported media format {encoding} at {rate} Hz; expected audio/x-mulaw at 8000 Hz")
        params = body.get("customParameters") or {}
        if not isinstance(params, dict):
            raise TelephonyError("start message with malformed customParameters")
        self.stream_sid = str(stream_sid)
        return Start(str(stream_sid), str(call_sid), str(body.get("accountSid", "")),
                     {str(k): str(v) for k, v in params.items()}, dict(media_format), sequence)

    # outbound ----------------------------------------------------------------------------
    def media(self, pcm_or_ulaw: np.ndarray | bytes) -> str:
        """An outbound ``media`` message; int16 PCM is mu-law encoded, bytes are taken as mu-law."""
        data = pcm_or_ulaw if isinstance(pcm_or_ulaw, (bytes, bytearray)) else ulaw_encode(pcm_or_ulaw)
        payload = base64.b64encode(bytes(data)).decode("ascii")
        return json.dumps({"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}})

    def mark(self, name: str) -> str:
        return json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    def clear(self) -> str:
        return json.dumps({"event": "clear", "streamSid": self.stream_sid})


def _section(message: dict, key: str) -> dict:
    body = message.get(key)
    if not isinstance(body, dict):
        raise TelephonyError(f"{message.get('event')} message without its {key!r} object")
    return body


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
