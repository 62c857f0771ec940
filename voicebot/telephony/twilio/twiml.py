"""TwiML documents voicebot answers with, built with the twilio library's ``VoiceResponse``.

- ``stream_twiml``: ``<Connect><Stream>`` opening the bidirectional Media Stream, with the
  one-time token and other values as ``<Parameter>`` (they arrive in the ``start`` message).
- ``transfer_twiml``: hand the caller to a human. The destination decides the verb:
  ``+15551234567`` -> ``<Dial><Number>``; ``sip:agent@pbx.example.com`` -> ``<Dial><Sip>`` with
  the context as ``X-`` SIP headers (Twilio passes URI parameters starting ``X-`` as headers);
  ``client:alice`` -> ``<Dial><Client>`` with the context as ``<Parameter>``; ``queue:support``
  -> ``<Enqueue>``. A plain number gets no context in TwiML (Twilio has no place for it);
  the agent opens the transfer record instead.
- ``hangup_twiml``: end the call, optionally after Twilio says a short message (used when the
  bot cannot take calls yet: our own TTS is not loaded).
"""
from __future__ import annotations

import re
from typing import Mapping
from urllib.parse import quote

from twilio.twiml.voice_response import Client, Connect, Dial, VoiceResponse

from voicebot.errors import TelephonyError

_PHONE = re.compile(r"^\+?[0-9]{3,15}$")
# characters XML 1.0 cannot carry at all (control characters, lone surrogates, U+FFFE/U+FFFF)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Twilio limits custom SIP headers; keep values short and header-safe.
_SIP_HEADER_VALUE_MAX = 128


def stream_twiml(stream_url: str, parameters: Mapping[str, str]) -> str:
    """``<Response><Connect><Stream url=...>`` with one ``<Parameter>`` per item."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=_xml_safe(value))
    response.append(connect)
    return str(response)


def transfer_twiml(destination: str, context: Mapping[str, object] | None = None, *, caller_id: str | None = None) -> str:
    """TwiML that connects the live call to ``destination`` carrying ``context`` where Twilio allows.

    Raises ``TelephonyError`` for a destination voicebot cannot dial.
    """
    context = {k: v for k, v in (context or {}).items() if v is not None and v != ""}
    response = VoiceResponse()
    kind, _, target = destination.partition(":") if ":" in destination else ("number", "", destination)
    kind = kind.lower()
    if kind == "queue":
        response.enqueue(target)
        return str(response)
    dial = Dial(caller_id=caller_id) if caller_id else Dial()
    if kind == "number":
        if not _PHONE.match(target.replace(" ", "").replace("-", "")):
            raise TelephonyError(f"cannot transfer to {destination!r}: expected +15551234567, sip:user@host, client:name or queue:name")
        dial.number(target.replace(" ", "").replace("-", ""))
    elif kind in ("sip", "sips"):
        dial.sip(_sip_uri_with_headers(destination, context))
    elif kind == "client":
        client = Client()
        client.identity(target)
        for name, value in context.items():
            client.parameter(name=name, value=_xml_safe(_short(value)))
        dial.append(client)
    else:
        raise TelephonyError(f"cannot transfer to {destination!r}: expected +15551234567, sip:user@host, client:name or queue:name")
    response.append(dial)
    return str(response)


def hangup_twiml(message: str = "") -> str:
    """``<Response>[<Say>message</Say>]<Hangup/></Response>`` (Twilio speaks ``message``)."""
    response = VoiceResponse()
    if message:
        response.say(message)
    response.hangup()
    return str(response)


def _sip_uri_with_headers(uri: str, context: Mapping[str, object]) -> str:
    """``sip:agent@host?X-Voicebot-Reason=...&X-Voicebot-Intent=...`` (Twilio's custom SIP headers)."""
    headers = "&".join(
        f"X-Voicebot-{_header_name(name)}={quote(_short(value), safe='')}" for name, value in context.items()
    )
    if not headers:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}{headers}"


def _header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _xml_safe(value: object) -> str:
    """``value`` as text with the characters XML cannot carry removed (a caller ID is caller input)."""
    return _NOT_XML.sub("", str(value))


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= _SIP_HEADER_VALUE_MAX else text[: _SIP_HEADER_VALUE_MAX - 3] + "..."
