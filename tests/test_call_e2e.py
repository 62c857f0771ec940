"""Whole phone calls with the real session (ASR, NLU, flow, TTS) over the real webhook and
Media Stream, driven by the simulated Twilio with recorded human speech.

One call covers the issue's "done when": a keypress interrupts the greeting, a real recording
of an order number gets the order's status spoken back (the reply audio transcribes to it),
and "0" (agent) produces a REST call update with <Dial> plus a context record. A second call
says nothing but the order number, straight at the main menu, and gets the same answer.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jiwer
import numpy as np
import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN

from voicebot.actions import Say
from voicebot.storage import calls
from voicebot.testing.twilio_sim import Keys, Speech, TwilioSimulator

FIXTURES = Path(__file__).resolve().parent.parent / "audio_fixtures"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def order_call(real_server):
    sim = TwilioSimulator(real_server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, rest_standin=real_server.standin,
                          reply_timeout_s=20)
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
                          reply_timeout_s=20)
    return sim.call([Speech.from_wav(FIXTURES / "order_4172.wav")], caller="+15550001111")


def test_keypress_interrupts_the_greeting(order_call):
    bargein = order_call.turns[0]
    assert bargein.clear_ms is not None and bargein.clear_ms < 300
    assert order_call.prompts[0]["cleared"] or any(p["cleared"] for p in order_call.prompts[:3])
    said = [line["text"] for line in order_call.transcript if line["speaker"] == "bot"]
    assert any("order number" in text.lower() for text in said)  # the flow moved on to "1": order status


def test_spoken_order_number_gets_the_status_spoken_back(order_call, real_server):
    heard = [line for line in order_call.transcript if line["speaker"] == "caller"]
    assert heard and re.sub(r"\D", "", _digits(heard[0]["text"])) == "4172"
    said = " ".join(line["text"] for line in order_call.transcript if line["speaker"] == "bot").lower()
    assert "shipped" in said
    reply = _reply_audio(order_call, 1)
    assert len(reply) > 8000  # more than a second of audio reached the caller
    # The reply as the caller heard it transcribes as well as the bot's own TTS rendering of the
    # same sentences does (espeak at 8 kHz is hard for the offline ASR, so "as well as" is the bar).
    pipeline = real_server.state.pipeline
    lines = [line["text"] for line in order_call.transcript if line["speaker"] == "bot"]
    reply_lines = lines[next(i for i, t in enumerate(lines) if "shipped" in t.lower()):][:2]
    reference = _normalize(" ".join(reply_lines))
    heard_by_caller = _normalize(pipeline.asr.transcribe(reply, 8000).text)
    rendered = np.concatenate([pipeline.speak(Say(t)) for t in reply_lines])
    direct = _normalize(pipeline.asr.transcribe(rendered, 8000).text)
    assert "order" in heard_by_caller, heard_by_caller
    assert jiwer.wer(reference, heard_by_caller) <= jiwer.wer(reference, direct) + 0.15, (heard_by_caller, direct)
    assert order_call.turns[1].latency_ms is not None


def test_order_number_said_at_the_main_menu_gets_the_status_spoken_back(menu_call, real_server):
    heard = [line["text"] for line in menu_call.transcript if line["speaker"] == "caller"]
    assert len(heard) == 1 and re.sub(r"\D", "", _digits(heard[0])) == "4172", heard
    lines = [line["text"] for line in menu_call.transcript if line["speaker"] == "bot"]
    answers = [i for i, text in enumerate(lines) if "Order 4 1 7 2 has shipped" in text]
    assert answers, lines
    answer = answers[0]
    assert "Please say or key in your order number." not in lines, lines  # the number was never asked for
    reply = _reply_audio(menu_call, 0)
    assert len(reply) > 8000
    # as in the keyed call above: the reply audio the caller heard transcribes as well as the bot's own rendering
    pipeline = real_server.state.pipeline
    reply_lines = lines[answer:answer + 2]
    reference = _normalize(" ".join(reply_lines))
    heard_by_caller = _normalize(pipeline.asr.transcribe(reply, 8000).text)
    direct = _normalize(pipeline.asr.transcribe(np.concatenate([pipeline.speak(Say(t)) for t in reply_lines]), 8000).text)
    assert "order" in heard_by_caller, heard_by_caller
    assert jiwer.wer(reference, heard_by_caller) <= jiwer.wer(reference, direct) + 0.15, (heard_by_caller, direct)
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


_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3", "four": "4", "for": "4",
          "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}


def _normalize(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _digits(text: str) -> str:
    return "".join(_WORDS.get(word, word) for word in re.findall(r"[a-z]+|\d+", text.lower()))
