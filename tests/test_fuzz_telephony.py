"""Property-based tests of the Twilio Media Streams parser: any message either parses into an
``Inbound`` value or raises ``TelephonyError``; nothing else escapes, nothing hangs."""
from __future__ import annotations

import base64
import json

import fuzz_settings  # noqa: F401  (loads the bounded CI profile)
import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from voicebot.errors import TelephonyError
from voicebot.telephony.twilio.serializer import Connected, Dtmf, Mark, Media, Start, Stop, TwilioSerializer

INBOUND = (Connected, Start, Media, Dtmf, Mark, Stop)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)
EVENTS = ["connected", "start", "media", "dtmf", "mark", "stop", "clear", "", None, 1]
SECTIONS = ["start", "media", "dtmf", "mark", "stop"]


def _parse(raw):
    try:
        return TwilioSerializer().parse(raw)
    except TelephonyError as error:
        assert "\n" not in str(error)
        return error


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
@example(b"\xff\xfe{")
@example('{"event": "media", "media": {"payload": "' + "A" * 10 + '"}}')
def test_arbitrary_bytes_and_text(raw):
    assert isinstance(_parse(raw), INBOUND + (TelephonyError,))


@st.composite
def twilio_like(draw):
    message = {"event": draw(st.sampled_from(EVENTS))}
    for key in draw(st.lists(st.sampled_from(SECTIONS + ["sequenceNumber", "streamSid"]), max_size=4)):
        message[key] = draw(json_values)
    if draw(st.booleans()):
        section = draw(st.sampled_from(SECTIONS))
        message[section] = draw(st.dictionaries(
            st.sampled_from(["payload", "digit", "name", "streamSid", "callSid", "mediaFormat", "customParameters",
                             "chunk", "timestamp", "accountSid"]), json_values, max_size=6))
    return message


@given(twilio_like())
def test_structured_messages_with_wrong_types(message):
    assert isinstance(_parse(json.dumps(message)), INBOUND + (TelephonyError,))


@given(st.binary(max_size=800), st.integers(min_value=0, max_value=10**9))
def test_valid_media_decodes_every_byte(audio, chunk):
    message = {"event": "media", "sequenceNumber": "3",
               "media": {"payload": base64.b64encode(audio).decode(), "chunk": str(chunk), "timestamp": "20"}}
    media = TwilioSerializer().parse(json.dumps(message))
    assert isinstance(media, Media) and media.pcm.dtype == np.int16 and len(media.pcm) == len(audio)


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=5),
       st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_start_keeps_parameters_as_text(params, stream_sid, call_sid):
    message = {"event": "start", "start": {"streamSid": stream_sid, "callSid": call_sid, "customParameters": params,
                                           "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}}}
    start = TwilioSerializer().parse(json.dumps(message))
    assert isinstance(start, Start) and start.call_sid == call_sid and start.custom_parameters == params
