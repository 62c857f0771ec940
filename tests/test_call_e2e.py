"""Whole phone calls with the real session (ASR, NLU, flow, TTS) over the real webhook and
Media Stream, driven by the simulated Twilio with recorded human speech.

One call covers the issue's "done when": a keypress interrupts the greeting, a real recording
of an order number gets the order's status spoken back (the caller hears the bot's rendering of
it sample for sample, and that audio transcribes to it),
and "0" (agent) produces a REST call update with <Dial> plus a context record. A second call
says nothing but the order number, straight at the main menu, and gets the same answer.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN, spoken_digits

from voicebot.actions import Say
from voicebot.audio.codecs import ulaw_decode, ulaw_encode
from voicebot.storage import calls
from voicebot.testing.twilio_sim import Keys, Speech, TwilioSimulator

FIXTURES = Path(__file__).resolve().parent.parent / "audio_fixtures"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def order_call(real_server):
    sim = TwilioSimulator(real_server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, rest_standin=real_server.standin,
                          reply_timeout_s=60)  # generous: a busy machine answers slowly
    turns = [Keys("1", interrupt=True), Speech.from_wav(FIXTURES / "order_4172.wav"), Keys("0")]
    return sim.call(turns, caller="+15550001111")


def _reply_audio(result, turn_index: int) -> np.ndarray:
    """The bot's audio between caller turn ``turn_index`` and the next one."""
    start = result.turns[turn_index].last_input_s
    end = result.turns[turn_index + 1].started_s if turn_index + 1 < len(result.turns) else 1e9
    parts = [result.prompt_audio[p["label"]] for p in result.prompts if start <= p["t"] < end]
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


@pytest.fixture(scope="module")
def menu_call(real_server):
    """The caller's only turn: the recorded order number, spoken at the main menu (no key first)."""
    sim = TwilioSimulator(real_server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, rest_standin=real_server.standin,
                          reply_timeout_s=60)  # generous: a busy machine answers slowly
    return sim.call([Speech.from_wav(FIXTURES / "order_4172.wav")], caller="+15550001111")


GREETING = ["Hi Ana, welcome back to Acme.",
            "How can I help? Say the number of your order, or order status, billing, returns, store hours, or recommendations."]
ANSWER = ["Order 4 1 7 2 has shipped and arrives Thursday.", "Anything else? Say main menu, or no to finish."]


def _as_heard(pipeline, lines: list[str]) -> np.ndarray:
    """What a caller hears of the bot saying ``lines``: each line's audio through mu-law, its last
    20 ms frame padded with silence (as the Twilio channel sends it)."""
    parts = []
    for line in lines:
        pcm = ulaw_decode(ulaw_encode(pipeline.speak(Say(line))))
        parts += [pcm, np.zeros(-len(pcm) % 160, np.int16)]
    return np.concatenate(parts)


def _assert_heard_the_answer(reply: np.ndarray, pipeline) -> None:
    """The caller heard the answer sample for sample, and it transcribes as the answer."""
    expected = _as_heard(pipeline, ANSWER)
    assert len(reply) == len(expected) and np.array_equal(reply, expected)
    # Whisper tiny.en on espeak at 8 kHz: the order number and status words vary from process to
    # process on this very audio ("order 41 and two have shipped and arrived in thursday anything
    # else ...", "order 41 heaven to her ship and the rising earth may anything else ..."); these
    # words were in every reading
    heard = set(_normalize(pipeline.asr.transcribe(reply, 8000).text).split())
    assert {"order", "anything", "else"} <= heard, heard


def test_keypress_interrupts_the_greeting(order_call, real_server):
    press = order_call.turns[0]
    assert press.clear_ms is not None
    whats = [e["what"] for e in order_call.events]
    assert whats.index("presses 1") < whats.index("clear (playback stopped)")
    # exactly one prompt was cut: a greeting chunk; the rest of the greeting never reached the
    # caller, the next thing heard was the question the "1" (order status) leads to
    [cut] = [p for p in order_call.prompts if p["cleared"]]
    at = order_call.prompts.index(cut)
    before, after = order_call.prompts[:at], order_call.prompts[at + 1:]
    assert all(p["label"].startswith(("p1.", "p2.")) for p in before)
    assert after[0]["label"] == "p3.0" and not [p for p in after if p["label"].startswith(("p1.", "p2."))]
    heard_s = sum(p["seconds"] for p in before + [cut])
    greeting_s = len(_as_heard(real_server.state.pipeline, GREETING)) / 8000
    assert 0.3 <= heard_s < greeting_s  # the key went 0.3 s into the greeting, which was cut
    said = [line["text"] for line in order_call.transcript if line["speaker"] == "bot"]
    assert said[:3] == GREETING + ["Please say or key in your order number."]


def test_spoken_order_number_gets_the_status_spoken_back(order_call, real_server):
    heard = [line for line in order_call.transcript if line["speaker"] == "caller"]
    assert heard and spoken_digits(heard[0]["text"]) == "4172"
    said = [line["text"] for line in order_call.transcript if line["speaker"] == "bot"]
    assert said == GREETING + ["Please say or key in your order number."] + ANSWER + ["Connecting you to an agent."]
    _assert_heard_the_answer(_reply_audio(order_call, 1), real_server.state.pipeline)
    assert order_call.turns[1].latency_ms is not None


def test_order_number_said_at_the_main_menu_gets_the_status_spoken_back(menu_call, real_server):
    heard = [line["text"] for line in menu_call.transcript if line["speaker"] == "caller"]
    assert len(heard) == 1 and spoken_digits(heard[0]) == "4172", heard
    lines = [line["text"] for line in menu_call.transcript if line["speaker"] == "bot"]
    assert lines == GREETING + ANSWER, lines  # the number was never asked for
    _assert_heard_the_answer(_reply_audio(menu_call, 0), real_server.state.pipeline)
    assert menu_call.turns[0].latency_ms is not None


def test_agent_key_transfers_over_rest_with_a_context_record(order_call, real_server):
    assert order_call.transfer is not None
    dial = ET.fromstring(order_call.transfer["twiml"]).find("Dial/Number")
    assert dial.text == real_server.settings.transfer_number
    [record] = order_call.transfers
    assert record["destination"] == real_server.settings.transfer_number and record["reason"]
    assert record["context"] and record["call_sid"] == order_call.call_sid
    call = calls.get_call(real_server.state.db, order_call.call_sid)
    assert call.outcome == "transferred" and call.status == "completed"


def test_the_call_left_no_threads_behind(order_call):
    import threading

    from conftest import wait_for

    def leftovers():
        return [t.name for t in threading.enumerate() if order_call.call_sid[-8:] in t.name or order_call.call_sid in t.name]

    assert wait_for(lambda: not leftovers(), timeout=10), leftovers()


def _normalize(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))
