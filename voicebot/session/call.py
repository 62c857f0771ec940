"""``VoiceCallSession``: one phone call, from caller audio to spoken replies.

Two sides, one lock. The channel's thread (``on_audio``, ``on_dtmf``, ``on_mark``, and the ticker)
does cheap work only, under the lock: endpointing (``UtteranceCapture``), barge-in, keys, timers,
marks; what is slow becomes a typed job (``voicebot.session.jobs``) for the call's one worker
thread (``TurnWorker``), which answers through this class's ``CallControl`` methods. Time comes
from the injected ``clock``; timers fire on incoming frames and on the ticker.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Callable

import numpy as np

from voicebot import observability as metrics
from voicebot.actions import HangUp, Listen, Lookup, Transfer
from voicebot.audio.vad import VoiceActivityDetector
from voicebot.events import DtmfPressed, NoInput, PlaybackInterrupted
from voicebot.session.base import CallIO
from voicebot.session.capture import UtteranceCapture
from voicebot.session.dtmf import DtmfCollector
from voicebot.session.jobs import DropRecognition, EndCall, Job, SayFiller, StartCall, StepFlow, StopCall
from voicebot.session.lookups import FillerDue, LookupRunner
from voicebot.session.playback import BargeInDetector, Playback
from voicebot.session.settings import SessionSettings
from voicebot.session.timers import Ticker, Timers
from voicebot.session.turn import TurnWorker

log = logging.getLogger(__name__)

NO_INPUT, INTERDIGIT, END_WAIT = "no_input", "interdigit", "end_wait"
TYPEAHEAD_KEYS = 16  # keys remembered while the bot is busy; older ones are dropped


class VoiceCallSession:
    """Implements ``voicebot.session.base.CallSession`` for one call. Thread-safe."""

    def __init__(self, pipeline, io: CallIO, *, call_sid: str | None = None, clock: Callable[[], float] = time.monotonic,
                 settings: SessionSettings = SessionSettings(), channel: str = "voice"):
        self.pipeline, self.io, self.clock, self.settings = pipeline, io, clock, settings
        self.call_sid = call_sid or f"local-{uuid.uuid4().hex[:16]}"
        self._lock = threading.RLock()
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._capture = UtteranceCapture(VoiceActivityDetector(8000, engine=settings.vad_engine), min_speech_s=settings.min_speech_s,
                                         speculate_after_s=settings.speculate_after_s, thorough_after_s=settings.thorough_after_s)
        self._playback = Playback(BargeInDetector(VoiceActivityDetector(8000, engine=settings.barge_in_vad_engine, aggressiveness=3),
                                                  settings.barge_in_min_speech_s))
        self._timers = Timers()
        self._lookups = LookupRunner(pipeline.lookup_pool, pipeline.data_sources, wake=self.tick)
        self._listen: Listen | None = None
        self._dtmf: DtmfCollector | None = None
        self._pending_end: HangUp | Transfer | None = None
        self._started = self._stopped = self._ended = False
        self._typeahead = ""  # keys pressed while the bot was not listening yet
        self.barge_ins: list[tuple[str, float, float]] = []  # (speech|dtmf, heard_fraction, at)
        self.worker = TurnWorker(self, pipeline, io, call_sid=self.call_sid, channel=channel, calm_frustration=settings.calm_frustration,
                                 holding_phrase=settings.holding_phrase)
        self._thread = threading.Thread(target=self.worker.run, args=(self._jobs,), name=f"voicebot-call-{self.call_sid}", daemon=True)
        self._ticker = Ticker(self.tick, settings.tick_s, name=f"voicebot-tick-{self.call_sid}")

    # ---- channel side ---------------------------------------------------------------------------
    def start(self, caller: str = "", params: dict | None = None) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self._thread.start()
        self._ticker.start()
        self._jobs.put(StartCall(caller, dict(params or {})))

    def on_audio(self, pcm: np.ndarray) -> None:
        after: list[Callable[[], None]] = []
        with self._lock:
            if not self._started or self._stopped:
                return
            self._tick_locked()
            if self._ended or self._playback.muted:
                self._capture.forget_held()
            elif self._listen is not None:
                self._feed_locked(np.asarray(pcm, dtype=np.int16), after)
            else:  # after a silence timeout, kept for the reprompt's question (capture.hold)
                self._capture.hold(pcm)
        _run(after)

    def on_dtmf(self, digit: str) -> None:
        after: list[Callable[[], None]] = []
        with self._lock:
            if not self._started or self._stopped or self._ended:
                return
            if self._listen is None:  # the bot is still working on the last turn: type-ahead
                self._typeahead = (self._typeahead + digit)[-TYPEAHEAD_KEYS:]
            else:
                self._press_locked(digit, after)
        _run(after)

    def on_mark(self, label: str) -> None:
        with self._lock:
            self._playback.tracker.on_mark(label, self.clock())
            self._after_playback_locked()

    def on_stop(self, reason: str = "hangup") -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._timers.clear()
            self._lookups.cancel_all()
        self._ticker.stop()
        if self._started:
            self._jobs.put(StopCall(reason))
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout=10.0)

    def tick(self) -> None:
        """Fire due timers and collect lookup results (called by frames and the ticker)."""
        with self._lock:
            if not self._stopped:
                self._tick_locked()

    # ---- CallControl: what the worker asks of this side --------------------------------------------
    def queue_prompt(self, prompt, chunks: list[np.ndarray]) -> None:
        """Send a rendered prompt to the channel, chunk by chunk, each chunk followed by its mark."""
        with self._lock:
            if self._stopped:
                return
            self._playback.add(prompt, self.clock())
        for chunk, label in zip(chunks, prompt.chunk_labels):
            self.io.play(chunk, label)

    def begin_listen(self, listen: Listen) -> None:
        after: list[Callable[[], None]] = []
        with self._lock:
            if self._stopped or self._ended:
                return
            self._listen, self._dtmf = listen, DtmfCollector.for_listen(listen)
            self._capture.listen(self.settings.end_silence_s or listen.end_silence_s, listen.max_utterance_s)
            if not self._playback.playing:
                self._timers.start(NO_INPUT, self.clock() + listen.start_timeout_s)
            keys, self._typeahead = self._typeahead, ""
            for key in keys:  # answered before the question was asked
                if self._listen is not None:
                    self._press_locked(key, after)
            for frame in self._capture.take_held():  # an answer begun before the question opened
                if self._listen is None or self._playback.muted:
                    break
                self._feed_locked(frame, after)
        _run(after)

    def spoke_after(self, last_voiced_s: float) -> bool:
        with self._lock:
            return self._capture.last_voiced_s != last_voiced_s

    def end_turn_early(self, last_voiced_s: float) -> bool:
        with self._lock:
            if self._stopped or self._listen is None:
                return False
            finish = self._capture.end_now(last_voiced_s)
            if finish is None:
                return False
            metrics.EARLY_ENDS.inc()
            self._listen_over_locked()
            self._jobs.put(finish)
            return True

    def begin_lookup(self, lookup: Lookup) -> None:
        with self._lock:
            if not self._stopped:
                self._lookups.start(lookup, self.clock())

    def end_after_playback(self, action: HangUp | Transfer) -> None:
        with self._lock:
            self._ended = True
            self._listen = None
            self._timers.cancel(NO_INPUT, INTERDIGIT)
            self._pending_end = action
            self._timers.start(END_WAIT, self.clock() + self.settings.max_end_wait_s)
            self._after_playback_locked()

    # ---- internals (called with the lock held) ------------------------------------------------------
    def _press_locked(self, digit: str, after: list) -> None:
        if self._playback.muted:
            return
        now = self.clock()
        if self._playback.playing:
            self._barge_in_locked("dtmf", after)
        self._timers.cancel(NO_INPUT)
        digits = self._dtmf.press(digit, now)
        if digits is not None:
            self._finish_listen_locked(DtmfPressed(digits))
        elif self._dtmf.collecting:
            self._timers.start(INTERDIGIT, now + self._dtmf.interdigit_timeout_s)

    def _feed_locked(self, pcm: np.ndarray, after: list) -> None:
        captured = self._capture.feed(pcm, self._listen)
        if captured.started:
            self._timers.cancel(NO_INPUT)
        for job in captured.jobs:
            self._jobs.put(job)
        speech_ms = self._capture.speech_ms if self._capture.in_speech else 0.0
        if self._playback.playing and self._playback.talked_over(pcm, speech_ms, self.settings.barge_in_min_speech_s):
            self._barge_in_locked("speech", after)  # only an interruptible prompt gets here (see on_audio)
        if captured.finish is not None:
            self._listen_over_locked()
            self._jobs.put(captured.finish)

    def _listen_over_locked(self) -> None:
        self._listen = None
        self._dtmf = None
        self._timers.cancel(NO_INPUT, INTERDIGIT)

    def _barge_in_locked(self, by: str, after: list) -> None:
        heard = self._playback.interrupt(self.clock())
        self.barge_ins.append((by, heard, self.clock()))
        metrics.BARGE_INS.labels(by).inc()
        after.append(self.io.clear)
        self._jobs.put(StepFlow(PlaybackInterrupted(heard)))

    def _finish_listen_locked(self, event) -> None:
        self._listen_over_locked()
        if self._capture.drop():
            self._jobs.put(DropRecognition())
        self._jobs.put(StepFlow(event))

    def _after_playback_locked(self) -> None:
        if self._playback.playing:
            return
        if self._pending_end is not None:
            action, self._pending_end = self._pending_end, None
            self._timers.cancel(END_WAIT)
            self._jobs.put(EndCall(action))
        elif self._listen is not None and not self._capture.in_speech and not (self._dtmf and self._dtmf.collecting):
            if not self._timers.active(NO_INPUT):
                self._timers.start(NO_INPUT, self.clock() + self._listen.start_timeout_s)

    def _tick_locked(self) -> None:
        now = self.clock()
        for name in self._timers.pop_due(now):
            if name == NO_INPUT and self._listen is not None and not self._capture.in_speech:
                metrics.NO_INPUTS.inc()
                self._finish_listen_locked(NoInput(self._listen.start_timeout_s))
                self._capture.hold_from_now()  # the caller may answer just as the bot gives up waiting
            elif name == INTERDIGIT and self._dtmf is not None:
                digits = self._dtmf.poll(now + 1e-9)
                if digits:
                    self._finish_listen_locked(DtmfPressed(digits))
            elif name == END_WAIT and self._pending_end is not None:
                self._playback.tracker.clear()
                self._after_playback_locked()
        for outcome in self._lookups.poll(now):
            if isinstance(outcome, FillerDue):
                metrics.LOOKUP_FILLERS.inc()
                self._jobs.put(SayFiller(outcome.say))
            else:
                self._jobs.put(StepFlow(outcome))

    # ---- what drivers, tests and the talk command read -----------------------------------------------
    @property
    def idle(self) -> bool:
        """True when nothing is in progress: no utterance being captured, no turn, prompt or lookup."""
        with self._lock:
            return self._jobs.unfinished_tasks == 0 and not self._lookups.busy and not self._capture.in_speech \
                and not (self._dtmf is not None and self._dtmf.collecting)

    def join_work(self, timeout_s: float) -> bool:
        """Wait until the worker has done every job queued so far; False after ``timeout_s``."""
        with self._jobs.all_tasks_done:
            return self._jobs.all_tasks_done.wait_for(lambda: self._jobs.unfinished_tasks == 0, timeout_s)

    @property
    def running_lookups(self) -> tuple[str, ...]:
        with self._lock:
            return self._lookups.running

    @property
    def alive_threads(self) -> list[threading.Thread]:
        """This call's threads still running (empty after ``on_stop``)."""
        return [t for t in (self._thread, self._ticker.thread) if t.is_alive()]

    @property
    def prompts(self) -> list[str]:
        return self.worker.prompts  # every text the bot said, in order

    @property
    def turns(self) -> list[dict]:
        return self.worker.turns  # every answered caller turn: text, understanding, stage timings

    @property
    def lines(self) -> list:
        return list(self.worker.dialogue.lines) if self.worker.dialogue else []  # the conversation (TranscriptLine)


def _run(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:  # channel calls happen outside the lock: they may call us back
        callback()
