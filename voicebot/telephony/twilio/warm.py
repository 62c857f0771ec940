"""TwiML of a warm transfer and of a queue, built with the twilio library's ``VoiceResponse``.

Warm transfer (``VOICEBOT_TRANSFER_MODE=warm``): the caller's call is redirected into a
conference named after it (``room_name``), where it waits (``startConferenceOnEnter=false``) on
the hold audio of ``waitUrl`` - the Media Stream has ended, so the bot hears and transcribes
nothing of it. The agent's phone is called over REST; when the agent answers, ``agent_twiml``
first *says* the call's summary to the agent alone, then joins them to the conference, which
starts it (``startConferenceOnEnter=true``) and so connects the caller. Either leaving ends it.

Queue (``queue:NAME``): ``<Enqueue>`` with a ``waitUrl`` that announces the caller's position
(``queue_wait_twiml``) between hold audio, and ``<Leave/>`` once the wait is too long; the
``action`` then gives the caller back to the bot. ``resume_twiml`` is the ``<Connect><Stream>``
that reconnects a caller to the bot, with ``resumed`` telling the flow why.
"""
from __future__ import annotations

from urllib.parse import urlencode

from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

HOLD_PATH = "/twilio/handoff/hold"
HOLD_AUDIO_PATH = "/twilio/handoff/hold.wav"
AGENT_PATH = "/twilio/handoff/agent"
AGENT_STATUS_PATH = "/twilio/handoff/agent-status"
CALLER_LEFT_PATH = "/twilio/handoff/caller-left"
QUEUE_WAIT_PATH = "/twilio/handoff/queue-wait"
QUEUE_LEFT_PATH = "/twilio/handoff/queue-left"


def room_name(call_sid: str) -> str:
    """The conference a warm transfer of ``call_sid`` meets in."""
    return f"handoff-{call_sid}"


def url(base: str, path: str, **query) -> str:
    """``base`` + ``path`` with ``query`` (Twilio signs the URL with its query, so keep it stable)."""
    tail = urlencode({k: v for k, v in query.items() if v not in (None, "")})
    return f"{base.rstrip('/')}{path}" + (f"?{tail}" if tail else "")


def caller_conference_twiml(base: str, call_sid: str, transfer_id: int | None) -> str:
    """The caller waits on hold in the conference until the agent joins."""
    response = VoiceResponse()
    dial = Dial(action=url(base, CALLER_LEFT_PATH, call=call_sid))
    dial.conference(room_name(call_sid), start_conference_on_enter=False, end_conference_on_exit=True, beep=False,
                    wait_url=url(base, HOLD_PATH), wait_method="POST")
    response.append(dial)
    return str(response)


def agent_twiml(summary: str, call_sid: str) -> str:
    """The agent hears ``summary`` (the caller does not), then joins and starts the conference."""
    response = VoiceResponse()
    response.say(summary)
    dial = Dial()
    dial.conference(room_name(call_sid), start_conference_on_enter=True, end_conference_on_exit=True, beep=False)
    response.append(dial)
    return str(response)


def hold_twiml(base: str) -> str:
    """Hold audio, looped until the conference starts."""
    response = VoiceResponse()
    response.play(url(base, HOLD_AUDIO_PATH), loop=0)
    return str(response)


def enqueue_twiml(base: str, queue: str, call_sid: str) -> str:
    """Put the caller in ``queue`` with position announcements; coming out unbridged goes back to the bot."""
    response = VoiceResponse()
    response.enqueue(queue, wait_url=url(base, QUEUE_WAIT_PATH), wait_url_method="POST",
                     action=url(base, QUEUE_LEFT_PATH, call=call_sid), method="POST")
    return str(response)


def queue_wait_twiml(base: str, position: int | None, waited_s: float, max_wait_s: float) -> str:
    """What a queued caller hears each round: their place in line, then hold audio; ``<Leave/>``
    once they have waited ``max_wait_s``."""
    response = VoiceResponse()
    if waited_s >= max_wait_s:
        response.leave()
        return str(response)
    if position:
        response.say("You are next in line." if position == 1 else f"You are number {position} in line.")
    response.play(url(base, HOLD_AUDIO_PATH))
    return str(response)


def resume_twiml(stream_url: str, token: str, caller: str, called: str, resumed: str) -> str:
    """``<Connect><Stream>`` back to the bot; ``resumed`` reaches the flow as a variable."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    for name, value in (("token", token), ("caller", caller), ("called", called), ("resumed", resumed)):
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def hangup_twiml() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
