"""The simulated Twilio against a real server (EchoSession as the bot): webhook, stream,
turn-taking, mark echoes, barge-in, DTMF, transfer over REST, recording and timeline."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN, wait_for

from voicebot.errors import TelephonyError
from voicebot.storage import calls
from voicebot.testing.echo_session import tone
from voicebot.testing.live_server import LiveServer
from voicebot.testing.sim_playback import BotPlayback
from voicebot.testing.twilio_sim import Keys, Speech, TwilioSimulator


def _speech(seconds: float = 0.8) -> Speech:
    return Speech(np.concatenate([tone(300, seconds, 6000), np.zeros(400, np.int16)]), "beep")


def _sim(server, **kw) -> TwilioSimulator:
    return TwilioSimulator(server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, rest_standin=server.standin, **kw)


def test_a_whole_call_speech_bargein_and_transfer(echo_server):
    baseline = threading.active_count()
    result = _sim(echo_server).call([_speech(), Keys("5", interrupt=True), Keys("0")])
    session = echo_server.sessions[result.call_sid]
    # the caller spoke only after the greeting had played (the bot was listening)
    speech_turn, bargein, transfer_turn = result.turns
    greeting = result.prompts[0]
    assert greeting["label"] == "greeting" and speech_turn.started_s >= greeting["t"] + greeting["seconds"]
    # EchoSession answers 0.3 s after speech ends: the latency is that plus transport
    assert 280 <= speech_turn.latency_ms <= 1000
    # a keypress while the reply played: clear came back fast, the reply was cut short
    assert bargein.clear_ms is not None and bargein.clear_ms < 300
    reply = next(p for p in result.prompts if p["label"].startswith("reply") or p["label"] == "(cleared)")
    assert reply["cleared"] and reply["seconds"] < 0.4
    # the transfer went out over REST with <Dial>, and the stream ended
    assert result.transfer["destination"] == "+15550100000"
    assert result.ended_by == "transferred (REST)"
    assert session.digits == ["5", "0"] and "greeting" in session.marks
    assert result.transfers and result.transfers[0]["reason"] == "caller pressed 0"
    assert len(result.bot_audio) > 0.6 * 8000
    call = calls.get_call(echo_server.state.db, result.call_sid)
    assert call.status == "completed" and call.outcome == "transferred"
    whats = [e["what"] for e in result.events]
    assert any(w.startswith("says beep") for w in whats) and any("transfers to +15550100000" in w for w in whats)
    assert wait_for(lambda: threading.active_count() <= baseline, timeout=5)


def test_marks_are_echoed_only_after_their_audio_has_played(echo_server):
    started = time.monotonic()
    result = _sim(echo_server, listen_quiet_s=0.2).call([Keys("1")])
    session = echo_server.sessions[result.call_sid]
    assert session.marks[:2] == ["greeting", "key-1-1"]
    # greeting 0.6 s + key tone 0.3 s had to play before the call could end
    assert time.monotonic() - started >= 0.9
    assert result.ended_by == "caller hung up"


def test_fast_mode_sends_speech_faster_than_real_time(echo_server):
    long_speech = _speech(2.0)
    started = time.monotonic()
    result = _sim(echo_server, fast=True, listen_quiet_s=0.2).call([long_speech])
    assert time.monotonic() - started < 2.0 + 0.6 + 1.5
    session = echo_server.sessions[result.call_sid]
    assert session.speech_frames == 100  # every frame of the 2 s tone arrived
    assert result.turns[0].latency_ms is not None


def test_public_url_mode_signs_the_public_url(echo_app_factory, rest_standin):
    app, sessions = echo_app_factory(public_url="https://ivr.example.com")
    with LiveServer(app) as server:
        sim = TwilioSimulator(server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, public_url="https://ivr.example.com",
                              listen_quiet_s=0.2)
        result = sim.call([Keys("2")])
        assert sessions[result.call_sid].digits == ["2"]
        with pytest.raises(TelephonyError, match="403"):
            TwilioSimulator(server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID).call([Keys("2")])


def test_wrong_auth_token_or_no_server_is_a_one_line_error(echo_server):
    with pytest.raises(TelephonyError, match="answered 403"):
        TwilioSimulator(echo_server.url, auth_token="not-the-token").call([Keys("1")])
    with pytest.raises(TelephonyError, match="cannot reach"):
        TwilioSimulator("http://127.0.0.1:9", auth_token=AUTH_TOKEN).call([Keys("1")])


def test_playback_model_follows_twilio_mark_rules():
    playback = BotPlayback(lambda: 0.0)
    for _ in range(10):
        playback.media(np.zeros(160, np.int16))
    playback.mark("a")
    assert playback.due_marks() == []  # 0.2 s of audio still to play
    time.sleep(0.25)
    assert playback.due_marks() == ["a"]
    for _ in range(50):
        playback.media(np.ones(160, np.int16))
    playback.mark("b")
    playback.clear()  # clear: pending marks are echoed at once, unplayed audio is dropped
    assert playback.due_marks() == ["b"]
    assert playback.prompts[-1]["cleared"] and playback.prompts[-1]["seconds"] < 0.2


def test_in_process_bot_serves_a_real_socket_and_stops_everything(tmp_path):
    from conftest import make_settings

    from voicebot.testing.echo_session import EchoSession
    from voicebot.testing.in_process import bot_in_process

    baseline = threading.active_count()
    with bot_in_process(make_settings(tmp_path, ""), session_factory=EchoSession) as bot:
        assert bot.url.startswith("http://127.0.0.1:")
        result = TwilioSimulator(bot.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, rest_standin=bot.standin,
                                 listen_quiet_s=0.2).call([Keys("0")])
        assert result.transfer["destination"] == "+15550100000"
        assert bot.standin.updates[-1].call_sid == result.call_sid
    assert wait_for(lambda: threading.active_count() <= baseline, timeout=5)


def test_bot_hangup_over_rest_ends_the_simulated_call(echo_server):
    result = _sim(echo_server, listen_quiet_s=0.2).call([Keys("9"), Keys("1")])
    assert result.hung_up_by_bot and result.ended_by == "bot hung up (REST)"
    assert [t.label for t in result.turns] == ["dtmf 9"]  # the caller never got to press 1
    update = [u for u in echo_server.standin.updates if u.call_sid == result.call_sid][-1]
    assert update.params == {"Status": "completed"}
    assert result.prompts[-1]["label"] == "goodbye" and not result.prompts[-1]["cleared"]
