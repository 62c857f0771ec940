"""The session's small parts on their own: keypad collection, playback/heard fraction, timers,
lookups with filler and timeout (real thread pool), the in-memory channel, barge-in onsets,
and the call benchmark's bad-input path."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from voicebot.actions import Lookup, Say
from voicebot.errors import LookupFailedError
from voicebot.events import LookupCompleted, LookupFailed
from voicebot.session.datasources import DataSources
from voicebot.session.dtmf import DtmfCollector
from voicebot.session.lookups import FillerDue, LookupRunner
from voicebot.session.playback import PlaybackTracker, QueuedPrompt, split_chunks
from voicebot.testing.memory_call import RecordingCallIO
from voicebot.session.timers import FrameClock, Ticker, Timers


# ---- DTMF ------------------------------------------------------------------------------------
def test_dtmf_completes_at_expected_length():
    c = DtmfCollector(max_digits=4)
    assert [c.press(k, t) for t, k in enumerate("417")] == [None, None, None]
    assert c.press("2", 3.0) == "4172"
    assert not c.collecting


def test_dtmf_terminator_ends_early_and_is_not_included():
    c = DtmfCollector(max_digits=8, terminator="#")
    for k in "123":
        assert c.press(k, 0.0) is None
    assert c.press("#", 0.5) == "123"


def test_dtmf_lone_terminator_answers_one_key_menu_only():
    assert DtmfCollector(max_digits=1).press("#", 0.0) == "#"
    assert DtmfCollector(max_digits=4).press("#", 0.0) is None


def test_dtmf_interdigit_timeout_returns_partial_entry():
    c = DtmfCollector(max_digits=6, interdigit_timeout_s=3.0)
    c.press("5", 10.0)
    c.press("5", 11.0)
    assert c.poll(13.9) is None
    assert c.poll(14.0) == "55"
    assert c.poll(20.0) is None  # reported once


def test_dtmf_ignores_unknown_keys():
    c = DtmfCollector(max_digits=2)
    assert c.press("x", 0.0) is None and c.press("A", 0.0) is None
    assert c.press("1", 0.0) is None and c.press("*", 0.0) == "1*"


# ---- playback tracking -------------------------------------------------------------------------
def _prompt(label: str, seconds: float, interruptible: bool = True) -> QueuedPrompt:
    chunks = split_chunks(np.zeros(int(seconds * 8000), dtype=np.int16))
    return QueuedPrompt(label, label, interruptible, [f"{label}.{i}" for i in range(len(chunks))], [len(c) / 8000 for c in chunks])


def test_split_chunks_keeps_every_sample():
    pcm = np.arange(8000 * 1.3, dtype=np.int16)
    chunks = split_chunks(pcm)
    assert [len(c) for c in chunks] == [4000, 4000, 2400]
    assert np.array_equal(np.concatenate(chunks), pcm)


def test_heard_fraction_follows_marks_and_clock():
    tracker = PlaybackTracker()
    tracker.add(_prompt("p1", 2.0), now=0.0)
    assert tracker.heard_fraction(0.0) == 0.0
    assert tracker.heard_fraction(0.25) == pytest.approx(0.125)
    assert tracker.heard_fraction(5.0) == pytest.approx(0.25)  # no mark yet: at most the first chunk
    tracker.on_mark("p1.0", now=0.5)
    tracker.on_mark("p1.1", now=1.0)
    assert tracker.heard_fraction(1.2) == pytest.approx(0.6)


def test_prompt_finishes_on_its_last_mark_and_next_one_starts():
    tracker = PlaybackTracker()
    tracker.add(_prompt("p1", 1.0), now=0.0)
    tracker.add(_prompt("p2", 1.0, interruptible=False), now=0.0)
    assert tracker.on_mark("p1.0", 0.5) is None
    finished = tracker.on_mark("p1.1", 1.0)
    assert finished.label == "p1"
    assert tracker.current.label == "p2" and not tracker.current.interruptible
    assert tracker.heard_fraction(1.25) == pytest.approx(0.25)
    assert tracker.on_mark("unknown", 1.3) is None
    tracker.clear()
    assert not tracker.playing and tracker.heard_fraction(2.0) == 0.0


def test_mark_of_later_prompt_implies_earlier_ones_were_heard():
    tracker = PlaybackTracker()
    tracker.add(_prompt("p1", 0.5), now=0.0)
    tracker.add(_prompt("p2", 0.5), now=0.0)
    assert tracker.on_mark("p2.0", 1.0).label == "p2"
    assert not tracker.playing


# ---- timers -------------------------------------------------------------------------------------
def test_timers_fire_once_in_deadline_order():
    timers = Timers()
    timers.start("b", 2.0)
    timers.start("a", 1.0)
    timers.start("c", 9.0)
    assert timers.pop_due(0.5) == []
    assert timers.pop_due(2.0) == ["a", "b"]
    assert timers.pop_due(3.0) == []
    timers.cancel("c")
    assert not timers.active("c") and timers.pop_due(10.0) == []


def test_ticker_ticks_and_stops_its_thread():
    ticks = []
    ticker = Ticker(lambda: ticks.append(1), interval_s=0.01)
    ticker.start()
    time.sleep(0.1)
    ticker.stop()
    count = len(ticks)
    assert count >= 3
    time.sleep(0.05)
    assert len(ticks) == count
    assert not any(t.name == "voicebot-ticker" for t in threading.enumerate())


# ---- lookups --------------------------------------------------------------------------------------
@pytest.fixture()
def pool():
    executor = ThreadPoolExecutor(2)
    yield executor
    executor.shutdown(wait=True)


def _poll_until(runner: LookupRunner, now: float, max_s: float = 2.0) -> list:
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        out = runner.poll(now)
        if out:
            return out
        time.sleep(0.005)
    return []


def _sources(**functions) -> DataSources:
    sources = DataSources()
    for name, function in functions.items():
        sources.register(name, function)
    return sources


def test_fast_lookup_completes_without_filler(pool):
    woken = threading.Event()
    runner = LookupRunner(pool, _sources(order_by_number=lambda params: {"source": "order_by_number", **params}), wake=woken.set)
    runner.start(Lookup("l1", "order_by_number", {"number": "4172"}), now=0.0)
    out = _poll_until(runner, now=0.1)
    assert out == [LookupCompleted("l1", {"source": "order_by_number", "number": "4172"})]
    assert woken.is_set() and not runner.busy


def test_slow_lookup_gets_one_filler_then_completes(pool):
    release = threading.Event()

    def slow(params):
        release.wait(2.0)
        return {"ok": True}

    runner = LookupRunner(pool, _sources(slow=slow))
    lookup = Lookup("l2", "slow", {}, timeout_s=5.0, filler="One moment.", filler_after_s=0.8)
    runner.start(lookup, now=10.0)
    assert runner.poll(10.5) == []
    assert runner.poll(10.8) == [FillerDue(Say("One moment."))]
    assert runner.poll(11.0) == []
    release.set()
    assert _poll_until(runner, 11.2) == [LookupCompleted("l2", {"ok": True})]


def test_lookup_timeout_and_error_become_lookup_failed(pool):
    release = threading.Event()
    runner = LookupRunner(pool, _sources(s=lambda params: release.wait(2.0) and {}))
    runner.start(Lookup("slow", "s", {}, timeout_s=1.0, filler=""), now=0.0)
    out = runner.poll(1.0)
    release.set()
    assert len(out) == 1 and isinstance(out[0], LookupFailed) and "timed out" in out[0].reason

    def broken(params):
        raise LookupFailedError("data source 'x' failed: boom")

    runner = LookupRunner(pool, _sources(x=broken))
    runner.start(Lookup("bad", "x", {}), now=0.0)
    out = _poll_until(runner, 0.1)
    assert isinstance(out[0], LookupFailed) and "boom" in out[0].reason


# ---- the in-memory channel ------------------------------------------------------------------------
def test_recording_channel_plays_on_clock_and_echoes_marks_in_order():
    clock = FrameClock()
    marks: list[str] = []
    io = RecordingCallIO(clock, on_mark=marks.append)
    io.play(np.ones(800, dtype=np.int16), "a")  # 0.1 s
    io.play(np.ones(800, dtype=np.int16), "b")
    for _ in range(7):
        clock.advance(0.02)
        io.advance()
    assert marks == ["a"] and io.busy
    for _ in range(4):
        clock.advance(0.02)
        io.advance()
    assert marks == ["a", "b"] and not io.busy
    assert len(io.audio()) == 1600


def test_recording_channel_clear_drops_queued_audio():
    clock = FrameClock()
    marks: list[str] = []
    io = RecordingCallIO(clock, on_mark=marks.append)
    io.play(np.ones(8000, dtype=np.int16), "long")
    clock.advance(0.2)
    io.advance()
    io.clear()
    clock.advance(2.0)
    io.advance()
    assert marks == [] and len(io.audio()) == 1600 and [e.kind for e in io.events] == ["play", "clear"]


# ---- barge-in onset ------------------------------------------------------------------------------
def test_barge_in_detector_needs_a_minimum_run_of_speech():
    from voicebot.audio.vad import VoiceActivityDetector
    from voicebot.audio.wavfile import read_wav
    from voicebot.config import PROJECT_ROOT
    from voicebot.session.playback import BargeInDetector

    speech = read_wav(PROJECT_ROOT / "audio_fixtures" / "order_4172.wav").at_rate(8000).pcm  # human speech
    detector = BargeInDetector(VoiceActivityDetector(8000, engine="webrtc", aggressiveness=3), min_speech_s=0.2)
    fired = [detector.feed(speech[i:i + 160]) for i in range(0, 8000, 160)]
    assert any(fired)
    fired_at = fired.index(True) * 0.02 + 0.02
    first_sound = int(np.argmax(np.abs(speech) > 200)) / 8000  # the recording is silent before this
    first_loud = int(np.argmax(np.abs(speech) > 1000)) / 8000
    assert fired_at >= first_sound + 0.2 - 0.02  # a minimum run of speech (to a frame)
    assert fired_at - first_loud <= 0.3  # the barge-in target

    detector.reset()
    crackle = np.random.default_rng(1).normal(0, 6000, 800).astype(np.int16)  # 0.1 s of line noise
    frames = np.concatenate([crackle, np.zeros(1600, dtype=np.int16)])
    assert not any(detector.feed(frames[i:i + 160]) for i in range(0, len(frames), 160))


class _ScriptedVad:
    """The VAD's decisions, one per frame, read from a list (the rule under test is the counting)."""

    def __init__(self, decisions):
        self.decisions = list(decisions)

    def is_speech(self, _frame) -> bool:
        return self.decisions.pop(0)

    def reset(self) -> None:
        pass


@pytest.mark.parametrize("decisions, fires_at", [
    ([True] * 10, 10),  # 200 ms of speech
    ([True] * 5 + [False] + [True] * 5, 11),  # one frame dropped inside the onset: not a restart
    ([True] * 4 + [False, False] + [True] * 6, 12),  # two dropped
    ([True] * 4 + [False] * 3 + [True] * 6, None),  # a gap of 60 ms: 9 of the last 12 frames
    ([True] * 9 + [False] * 30 + [True] * 9, None),  # two short bursts apart
])
def test_barge_in_counts_speech_over_a_window_so_a_dropped_frame_does_not_restart_it(decisions, fires_at):
    from voicebot.session.playback import BargeInDetector

    detector = BargeInDetector(_ScriptedVad(decisions), min_speech_s=0.2)
    fired = [detector.feed(np.zeros(160, np.int16)) for _ in range(len(decisions))]
    assert (fired.index(True) + 1 if any(fired) else None) == fires_at


def test_bench_calls_against_an_unreachable_server_is_a_one_line_error():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "voicebot.cli.main", "bench", "calls", "--url", "http://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: no call completed: cannot reach the voicebot server at http://127.0.0.1:1: ConnectionError"


# ---- semantic endpointing: when an early recognition is the whole answer -------------------------
from voicebot.actions import Listen  # noqa: E402
from voicebot.session.completeness import is_complete  # noqa: E402


@pytest.mark.parametrize("listen, text, complete", [
    (Listen(max_digits=4, complete_when="digits"), "for 1 7 2", True),  # real Whisper output, 4 digits
    (Listen(max_digits=4, complete_when="digits"), "four one", False),  # a caller pausing mid-number
    (Listen(max_digits=4, complete_when="digits"), "41 7", False),
    (Listen(max_digits=4, complete_when=None), "4172", False),  # no hint: always wait for the silence
    (Listen(grammar="yesno", complete_when="yesno"), "Yes, please.", True),
    (Listen(grammar="yesno", complete_when="yesno"), "well", False),
    (Listen(grammar="yesno", complete_when="yesno"), "yes no", False),
    (Listen(grammar=("main menu", "that's all"), complete_when="phrase"), "That's all.", True),
    (Listen(grammar=("main menu", "that's all"), complete_when="phrase"), "main", False),
    (Listen(grammar=("main menu",), complete_when="phrase"), "", False),
])
def test_early_recognition_is_complete_only_when_it_fully_answers(listen, text, complete):
    assert is_complete(listen, text) is complete


def test_a_quick_recognition_counts_only_as_a_whole_answer():
    from voicebot.session.completeness import answer_test

    order = answer_test(Listen(max_digits=4, complete_when="digits"))
    assert order("for 1 7 2") and not order("four one") and not order("9 0 0 1 1 0 0 1")  # a looping decode reads too many
    yesno = answer_test(Listen(grammar="yesno", complete_when="yesno"))
    assert yesno("yes please") and not yesno("well")
    assert answer_test(Listen(complete_when=None)) is None and answer_test(None) is None  # open speech: any plausible text


def test_demo_flow_listens_fit_their_questions():
    from voicebot.config import PROJECT_ROOT
    from voicebot.flows.listen import listen_for
    from voicebot.flows.loader import load_flow

    flow = load_flow(PROJECT_ROOT / "flows" / "retail_demo.yaml")
    order = listen_for(flow, flow.nodes["ask_order"])
    assert order.complete_when == "digits" and order.max_digits == 4 and order.end_silence_s == 1.0
    yesno = listen_for(flow, flow.nodes["billing"])
    assert yesno.complete_when == "yesno" and yesno.end_silence_s < order.end_silence_s
    menu = listen_for(flow, flow.nodes["anything_else"])
    assert menu.complete_when == "phrase" and "that's all" in menu.grammar and menu.end_silence_s <= 0.5
    assert listen_for(flow, flow.nodes["main_menu"]).complete_when is None  # open speech: wait for the silence


def test_early_decode_waits_until_enough_speech_for_every_expected_digit():
    from voicebot.session.completeness import could_be_complete

    four = Listen(max_digits=4, complete_when="digits")
    assert not could_be_complete(four, 0.42)  # one FSDD digit: four cannot have been said yet
    assert could_be_complete(four, 1.5)
    assert could_be_complete(Listen(grammar="yesno", complete_when="yesno"), 0.2)
    assert could_be_complete(Listen(), 0.2)  # open speech: early decodes still hide the final one
