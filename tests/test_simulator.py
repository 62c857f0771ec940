"""The simulated Twilio against a real server (EchoSession as the bot): webhook, stream,
turn-taking, mark echoes, barge-in, DTMF, transfer over REST, recording and timeline."""
from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN, answer_call, wait_for

from voicebot.errors import TelephonyError
from voicebot.session.timers import FrameClock
from voicebot.storage import calls
from voicebot.testing.echo_session import tone
from voicebot.testing.live_server import LiveServer
from voicebot.testing.sim_pacing import FramePacer
from voicebot.testing.sim_playback import BotPlayback
from voicebot.testing.sim_stream import SILENCE, CallRun
from voicebot.testing.twilio_sim import Keys, Speech, TwilioSimulator


def _speech(seconds: float = 0.8) -> Speech:
    return Speech(np.concatenate([tone(300, seconds, 6000), np.zeros(400, np.int16)]), "beep")


def _sim(server, **kw) -> TwilioSimulator:
    return TwilioSimulator(server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, rest_standin=server.standin, **kw)


REPLY_S = 3.0  # the echo reply a key interrupts: most of it is still to play when the key goes


def test_a_whole_call_speech_bargein_and_transfer(echo_app_factory, rest_standin):
    app, sessions = echo_app_factory(session_options={"reply_s": REPLY_S})
    with LiveServer(app) as server:
        baseline = threading.active_count()
        result = TwilioSimulator(server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                                 rest_standin=rest_standin).call([_speech(), Keys("5", interrupt=True), Keys("0")])
        session = sessions[result.call_sid]
        # the caller spoke only after the greeting had played (the bot was listening)
        speech_turn, bargein, transfer_turn = result.turns
        greeting = result.prompts[0]
        assert greeting["label"] == "greeting" and speech_turn.started_s >= greeting["t"] + greeting["seconds"]
        # EchoSession answers after exactly 15 quiet frames (0.3 s) following the 40 frames of tone;
        # the caller's latency counts from its last speech frame, so at least those 15 frames went by
        assert session.speech_frames == 40
        assert [answered - last_loud for last_loud, answered in session.replies] == [15]
        assert speech_turn.latency_ms > 0 and speech_turn.reply_after_frames >= 15
        # a keypress while the reply played: the server cleared it after the key, mid-reply
        whats = [e["what"] for e in result.events]
        assert whats.index("presses 5") < whats.index("clear (playback stopped)")
        assert bargein.clear_ms is not None
        [cut] = [p for p in result.prompts if p["cleared"]]
        assert cut["label"] == "(cleared)" and cut["t"] > speech_turn.last_input_s
        assert 0.3 <= cut["seconds"] < REPLY_S  # heard from the start until the clear, not to the end
        assert wait_for(lambda: "reply-1" in session.io.prompt_frames_sent)
        assert session.io.prompt_frames_sent["reply-1"] < REPLY_S / 0.02  # the server stopped sending it
        assert "reply-1" not in session.marks  # its mark was never sent, so never echoed
        # the transfer went out over REST with <Dial>, and the stream ended
        assert result.transfer["destination"] == "+15550100000"
        assert result.ended_by == "transferred (REST)"
        assert session.digits == ["5", "0"] and "greeting" in session.marks
        assert result.transfers and result.transfers[0]["reason"] == "caller pressed 0"
        assert len(result.bot_audio) > 0.6 * 8000
        call = calls.get_call(app.extensions["voicebot"].db, result.call_sid)
        assert call.status == "completed" and call.outcome == "transferred"
        assert any(w.startswith("says beep") for w in whats) and any("transfers to +15550100000" in w for w in whats)
        assert wait_for(lambda: threading.active_count() <= baseline, timeout=5)


def test_marks_are_echoed_only_after_their_audio_has_played(echo_server):
    result = _sim(echo_server, listen_quiet_s=0.2).call([Keys("1")])
    session = echo_server.sessions[result.call_sid]
    assert session.marks[:2] == ["greeting", "key-1-1"]
    # on the caller's clock: each mark went back once the audio before it had played
    # (greeting 0.6 s, key tone 0.3 s), never when it merely arrived
    prompts = {p["label"]: p for p in result.prompts}
    assert [m["name"] for m in result.marks_echoed] == ["greeting", "key-1-1"]
    assert [prompts[m["name"]]["seconds"] for m in result.marks_echoed] == [0.6, 0.3]
    for mark in result.marks_echoed:
        prompt = prompts[mark["name"]]
        assert mark["t"] >= prompt["t"] + prompt["seconds"] - 0.001, (mark, prompt)  # t rounded to 1 ms
    assert result.ended_by == "caller hung up"


def test_fast_mode_sends_speech_without_pacing(echo_server):
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    result = _sim(echo_server, fast=True, listen_quiet_s=0.2, sleep=sleep).call([_speech(2.0)])
    session = echo_server.sessions[result.call_sid]
    assert wait_for(lambda: session.stopped is not None)
    assert session.speech_frames == 100  # every frame of the 2 s tone arrived
    # the caller waits at most once per paced frame: the 102 frames of the turn (tone and its
    # trailing zeros) went out without waiting
    assert len(sleeps) <= session.frames - 102
    assert result.turns[0].latency_ms is not None and result.turns[0].reply_after_frames >= 15


def test_pacer_holds_frames_to_real_time_and_catches_up_after_a_stall():
    clock = FrameClock()
    pacer = FramePacer(clock, clock.advance)
    sent = []
    for _ in range(50):
        pacer.wait()
        sent.append(clock())
    assert sent == pytest.approx([0.02 * k for k in range(50)])  # one frame every 20 ms
    clock.advance(1.0)  # the caller's thread did not run for a second
    late = []
    for _ in range(10):
        pacer.wait()
        late.append(clock())
    # the late frames go at once until no more than 0.1 s behind, then 20 ms apart again
    assert late == pytest.approx([1.98] * 7 + [2.0, 2.02, 2.04])
    for _ in range(100):
        pacer.wait(paced=False)  # fast mode: no waiting at all
    assert clock() == pytest.approx(2.04)
    pacer.wait()
    assert clock() == pytest.approx(2.06)  # the next paced frame waits one frame from now


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
    clock = FrameClock()
    playback = BotPlayback(clock, clock)
    for _ in range(10):
        playback.media(np.zeros(160, np.int16))
    playback.mark("a")
    assert playback.due_marks() == []  # 0.2 s of audio still to play
    clock.advance(0.19)
    assert playback.due_marks() == [] and playback.speaking_for() == pytest.approx(0.19)
    clock.advance(0.02)
    assert playback.due_marks() == ["a"] and playback.speaking_for() == -1.0
    for _ in range(50):
        playback.media(np.ones(160, np.int16))
    playback.mark("b")
    clock.advance(0.1)
    playback.clear()  # clear: pending marks are echoed at once, unplayed audio is dropped
    assert playback.due_marks() == ["b"]
    assert playback.prompts == [{"label": "a", "t": 0.0, "seconds": 0.2, "cleared": False},
                                {"label": "b", "t": 0.21, "seconds": 0.1, "cleared": True}]
    assert np.array_equal(playback.prompt_audio["b"], np.ones(800, np.int16))  # the 0.1 s that played
    assert playback.quiet_for() == pytest.approx(0.0) and playback.clears == 1


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


def test_a_stream_closed_under_the_caller_ends_the_call_instead_of_failing_it(echo_server):
    """Twilio stops streaming when the server closes the socket; so does the simulator: a frame that
    can no longer be sent ends the call (a 20-call benchmark once died of a BrokenPipeError here)."""
    call_sid, stream_url, params = answer_call(echo_server.url)
    run = CallRun(_sim(echo_server), call_sid, stream_url, params)
    run.ws.sock.shutdown(socket.SHUT_RDWR)  # the connection is gone under the sending loop
    run._frame(SILENCE)
    assert run.ended.is_set() and run.result.ended_by == "server closed the stream"
    run.finish()


def test_a_barge_in_is_timed_to_the_first_clear_after_it():
    """A long interruption can cut the bot twice (its first prompt, then a reply to half the
    sentence): the reaction is the first clear, not the last (bench calls once said 5.7 s)."""
    now = [10.0]
    playback = BotPlayback(lambda: now[0], clock=lambda: now[0])
    playback.clear()  # an earlier barge-in
    before = playback.clears
    assert playback.clear_after(before) is None
    now[0] = 12.2
    playback.clear()
    now[0] = 17.9
    playback.clear()
    assert playback.clear_after(before) == 12.2 and playback.last_clear_at == 17.9
