"""``WS /twilio/media`` over a real WebSocket: every message type and every failure.

The call session is ``EchoSession`` (plays a tone on start and per key, records what it got),
so these tests check the channel, not the conversation.
"""
from __future__ import annotations

import base64
import json
import logging
import threading

import numpy as np
import pytest
import requests
from conftest import StreamClient, answer_call, thread_names, wait_for

from voicebot.audio.codecs import ulaw_decode, ulaw_encode
from voicebot.storage.tables import Turn
from voicebot.storage import calls
from voicebot.telephony.twilio.serializer import Dtmf, Media, TwilioSerializer


def _open(server):
    call_sid, url, params = answer_call(server.url)
    client = StreamClient(url)
    client.start(call_sid, params)
    return call_sid, client


def _session(server, call_sid):
    assert wait_for(lambda: call_sid in server.sessions), "no session was started"
    return server.sessions[call_sid]


def _stop(client, call_sid):
    client.send("stop", stop={"callSid": call_sid})


@pytest.fixture
def call(echo_server):
    call_sid, client = _open(echo_server)
    yield call_sid, client, _session(echo_server, call_sid)
    client.close()


def test_start_with_valid_token_greets_with_paced_frames_and_a_mark(echo_server):
    call_sid, client = _open(echo_server)
    session = _session(echo_server, call_sid)
    mark = client.recv_until(lambda m: m["event"] == "mark")
    frames = [m for m in client.received if m["event"] == "media"]
    assert mark["mark"]["name"] == "greeting" and mark["streamSid"] == client.stream_sid
    assert len(frames) == 30  # 0.6 s tone in 20 ms frames
    payloads = [base64.b64decode(m["media"]["payload"]) for m in frames]
    assert {len(p) for p in payloads} == {160}
    sent = ulaw_decode(b"".join(payloads))
    assert np.abs(sent).max() > 6000  # the tone, not silence
    assert session.started_with["caller"] == "+15551110000" and "token" not in session.started_with
    assert calls.get_call(echo_server.state.db, call_sid).token_used
    _stop(client, call_sid)
    assert client.closed_by_server()


def test_outbound_audio_is_never_sent_faster_than_real_time(echo_server):
    """The live server paces the greeting (0.6 s of audio) on the real clock: its mark cannot
    come back sooner than the audio takes to play, less the ~0.1 s lead. Only a lower bound:
    a busy machine may be late, never early. (Timing is checked exactly on a stepped clock below.)"""
    import time

    call_sid, client = _open(echo_server)
    started = time.monotonic()
    client.recv_until(lambda m: m["event"] == "mark")
    assert time.monotonic() - started >= 0.45
    _stop(client, call_sid)
    client.close()


def test_media_frames_reach_the_session_as_20ms_pcm(call):
    call_sid, client, session = call
    pcm = (np.arange(800) % 200 * 50 - 5000).astype(np.int16)
    ulaw = ulaw_encode(pcm)
    client.media(ulaw[:160])
    client.media(ulaw[160:480])  # two frames in one message
    client.media(ulaw[480:560])  # half a frame ...
    client.media(ulaw[560:800])  # ... completed by the next message
    assert wait_for(lambda: session.frames == 5)
    assert np.array_equal(np.concatenate(session.audio_in), ulaw_decode(ulaw))
    assert {len(frame) for frame in session.audio_in} == {160}


def test_dtmf_reaches_the_session_and_clear_stops_playback(call):
    call_sid, client, session = call
    client.recv_until(lambda m: m["event"] == "media")  # greeting is playing
    client.send("dtmf", dtmf={"track": "inbound_track", "digit": "5"})
    clear = client.recv_until(lambda m: m["event"] == "clear")
    assert clear == {"event": "clear", "streamSid": client.stream_sid}
    mark = client.recv_until(lambda m: m["event"] == "mark")
    assert mark["mark"]["name"] == "key-5-1"  # the greeting's mark never came: it was cleared
    assert session.digits == ["5"]


def test_echoed_marks_reach_the_session(call):
    call_sid, client, session = call
    client.recv_until(lambda m: m["event"] == "mark")
    client.send("mark", mark={"name": "greeting"})
    assert wait_for(lambda: session.marks == ["greeting"])


def test_stop_ends_the_session_and_closes_the_socket(echo_server):
    call_sid, client = _open(echo_server)
    session = _session(echo_server, call_sid)
    _stop(client, call_sid)
    assert client.closed_by_server()
    assert wait_for(lambda: session.stopped == "hangup")
    with echo_server.state.db.session() as s:
        call = calls.get_call(echo_server.state.db, call_sid)
        texts = [t.text for t in s.query(Turn).filter(Turn.call_id == call.id)]
    assert texts == ["media stream ended: hangup"]


@pytest.mark.parametrize("case", ["unknown", "used", "wrong_call", "missing"])
def test_bad_stream_token_closes_the_socket_without_a_session(echo_server, case, caplog):
    call_sid, url, params = answer_call(echo_server.url)
    other_sid, _, other_params = answer_call(echo_server.url)
    if case == "used":
        first = StreamClient(url)
        first.start(call_sid, params)
        _session(echo_server, call_sid)
    elif case == "unknown":
        params = dict(params, token="not-the-token")
    elif case == "wrong_call":
        params = dict(other_params)  # call B's token presented for call A
    else:
        params = {k: v for k, v in params.items() if k != "token"}
    sessions_before = dict(echo_server.sessions)
    client = StreamClient(url)
    with caplog.at_level(logging.WARNING):
        client.start(call_sid, params)
        assert client.closed_by_server()
    assert not [m for m in client.received if m["event"] == "media"]
    if case != "used":
        assert call_sid not in echo_server.sessions
    assert echo_server.sessions.keys() == sessions_before.keys()
    assert any(call_sid in r.getMessage() and "stream rejected" in r.getMessage() for r in caplog.records)
    if case == "wrong_call":
        assert not calls.get_call(echo_server.state.db, other_sid).token_used
    if case == "used":
        _stop(first, call_sid)
        first.close()


@pytest.mark.parametrize("bad", [
    "{not json",
    json.dumps(["a", "list"]),
    json.dumps({"event": "teleport"}),
    json.dumps({"event": "media", "media": {"payload": "!!!not base64!!!"}}),
    json.dumps({"event": "media", "media": {}}),
    json.dumps({"event": "dtmf", "dtmf": {"digit": "x"}}),
    json.dumps({"event": "mark"}),
])
def test_bad_messages_are_logged_and_skipped_and_the_call_goes_on(call, bad, caplog):
    call_sid, client, session = call
    with caplog.at_level(logging.WARNING):
        client.send_raw(bad)
        client.send("dtmf", dtmf={"digit": "7"})  # the call still works afterwards
        assert wait_for(lambda: session.digits == ["7"])
    assert session.frames == 0 and session.stopped is None
    assert any(call_sid in r.getMessage() and "skipped bad message" in r.getMessage() for r in caplog.records)


def test_out_of_order_frames_are_dropped(call, caplog):
    call_sid, client, session = call
    frame = ulaw_encode(np.full(160, 1000, dtype=np.int16))
    client.media(frame, sequence=10)
    with caplog.at_level(logging.WARNING):
        client.media(frame, sequence=8)  # late: dropped
        client.media(frame, sequence=10)  # duplicate: dropped
    client.media(frame, sequence=11)
    assert wait_for(lambda: session.frames == 2)
    client.send("dtmf", sequence=12, dtmf={"digit": "1"})
    assert wait_for(lambda: session.digits == ["1"])
    assert session.frames == 2
    assert sum("out of order" in r.getMessage() and call_sid in r.getMessage() for r in caplog.records) == 2


def test_messages_before_start_are_ignored(echo_server):
    call_sid, url, params = answer_call(echo_server.url)
    client = StreamClient(url)
    client.media(ulaw_encode(np.zeros(160, dtype=np.int16)))
    client.send("dtmf", dtmf={"digit": "3"})
    client.start(call_sid, params)
    session = _session(echo_server, call_sid)
    client.recv_until(lambda m: m["event"] == "mark")
    assert session.frames == 0 and session.digits == []
    _stop(client, call_sid)
    client.close()


def test_a_dropped_socket_ends_the_call_cleanly_and_leaves_no_threads(echo_server):
    baseline = thread_names()
    call_sid, client = _open(echo_server)
    session = _session(echo_server, call_sid)
    client.recv_until(lambda m: m["event"] == "media")
    assert any(name.startswith("twilio-sender") for name in thread_names())
    client.ws.sock.close()  # the TCP connection vanishes mid-prompt, no close frame, no stop
    assert wait_for(lambda: session.stopped is not None, timeout=10)
    assert session.stopped in ("socket dropped", "socket closed")
    assert wait_for(lambda: thread_names() <= baseline, timeout=5), thread_names() - baseline
    with echo_server.state.db.session() as s:
        call = calls.get_call(echo_server.state.db, call_sid)
        assert s.query(Turn).filter(Turn.call_id == call.id).count() == 1  # what happened is kept
    assert requests.get(echo_server.url + "/healthz", timeout=5).status_code == 200


def test_many_calls_in_parallel_each_get_their_own_stream(echo_server):
    baseline = threading.active_count()
    calls = [_open(echo_server) for _ in range(5)]
    for call_sid, client in calls:
        client.send("dtmf", dtmf={"digit": "4"})
    for call_sid, client in calls:
        mark = client.recv_until(lambda m: m["event"] == "mark" and m["mark"]["name"].startswith("key"), timeout=8)
        assert mark is not None
        assert {m["streamSid"] for m in client.received} == {client.stream_sid}
        _stop(client, call_sid)
        client.close()
    assert all(echo_server.sessions[sid].digits == ["4"] for sid, _ in calls)
    assert wait_for(lambda: threading.active_count() <= baseline, timeout=5)


def test_serializer_round_trips_twilio_messages():
    serializer = TwilioSerializer("MZ1")
    pcm = (np.sin(np.arange(160) / 5) * 8000).astype(np.int16)
    outbound = json.loads(serializer.media(pcm))
    inbound = serializer.parse(json.dumps({"event": "media", "sequenceNumber": "4", "media": outbound["media"]}))
    assert isinstance(inbound, Media) and inbound.sequence == 4
    assert np.abs(inbound.pcm.astype(int) - pcm).max() < 300  # mu-law is lossy, not wrong
    assert serializer.parse('{"event": "dtmf", "dtmf": {"digit": "#"}}') == Dtmf("#", None)
    assert json.loads(serializer.clear()) == {"event": "clear", "streamSid": "MZ1"}


class _SteppedIO:
    """A ``TwilioCallIO`` on a virtual clock that only the test moves; records what it sends and when."""

    def __init__(self, start: float = 100.0):
        from voicebot.session.timers import FrameClock
        from voicebot.telephony.twilio.call_io import TwilioCallIO

        self.clock = FrameClock(start)
        self.sent: list[tuple[float, dict]] = []
        self.io = TwilioCallIO("CA" + "7" * 32, lambda text: self.sent.append((self.clock(), json.loads(text))),
                               TwilioSerializer("MZ9"), clock=self.clock)

    def caught_up(self) -> bool:
        """The sender waits for a clock time still to come (it sent everything due so far)."""
        return wait_for(lambda: self.io.waiting_until is not None and self.io.waiting_until > self.clock())

    def media_count(self) -> int:
        return sum(m["event"] == "media" for _, m in self.sent)


def test_call_io_sends_one_frame_per_20ms_at_most_80ms_ahead():
    stepped = _SteppedIO()
    io = stepped.io
    try:
        io.play(np.full(16000, 3000, dtype=np.int16), "long")  # 2 s: 100 frames
        assert stepped.caught_up() and stepped.media_count() == 5  # 80 ms lead: frames 0-4 at once
        for step in range(1, 95):
            stepped.clock.advance(0.02)
            assert stepped.caught_up(), step
            assert stepped.media_count() == 5 + step, step  # one more frame per 20 ms, never more
        stepped.clock.advance(0.02)
        assert wait_for(lambda: io.marks_sent == ["long"])  # the last frame, then its mark at once
        times = [t for t, m in stepped.sent if m["event"] == "media"]
        assert times == pytest.approx([100.0] * 5 + [100.0 + 0.02 * k for k in range(1, 96)])
        assert stepped.sent[-1] == (pytest.approx(101.9), {"event": "mark", "streamSid": "MZ9", "mark": {"name": "long"}})
        assert io.prompt_frames_sent == {"long": 100} and io.prompt_first_frame_at == {"long": 100.0}
    finally:
        io.close()
    assert not io._thread.is_alive()


def test_call_io_paces_frames_and_sends_nothing_of_a_cleared_prompt():
    stepped = _SteppedIO()
    io, sent = stepped.io, stepped.sent
    try:
        io.play(np.full(16000, 3000, dtype=np.int16), "long")  # 2 s
        assert stepped.caught_up()
        for _ in range(15):
            stepped.clock.advance(0.02)
            assert stepped.caught_up()
        io.clear()  # 0.3 s in: 0.3 s of audio + the 80 ms lead went out, not all 2 s
        io.play(np.full(800, 2000, dtype=np.int16), "short")  # 0.1 s
        assert wait_for(lambda: io.marks_sent == ["short"], timeout=5)
        events = [m["event"] for _, m in sent]
        clear_at = events.index("clear")
        assert events[:clear_at] == ["media"] * 20
        after = [m for _, m in sent[clear_at + 1:]]
        assert [m["event"] for m in after] == ["media"] * 5 + ["mark"]
        assert after[-1]["mark"]["name"] == "short" and io.prompt_frames_sent == {"long": 20, "short": 5}
        assert io.prompt_first_frame_at == {"long": 100.0, "short": pytest.approx(100.3)}
    finally:
        io.close()
    assert not io._thread.is_alive()
