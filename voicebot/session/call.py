"""``VoiceCallSession``: one phone call, from caller audio to spoken replies.

Two sides, one lock:
- the channel's thread calls ``on_audio``/``on_dtmf``/``on_mark`` (and the ticker ticks): cheap
  work only, under the lock: endpointing, barge-in, keypad collection, timers, playback marks;
- one worker thread per call does the slow, ordered work: streaming ASR while the caller
  speaks, understanding, the flow step and the actions it returns (TTS, play, lookups,
  transfer, hang-up), and the database writes (``voicebot.session.turn``).
Time comes from the injected ``clock``; timers fire on incoming frames and on the ticker.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from voicebot.actions import HangUp, Listen, Lookup, Say, Transfer
from voicebot.audio.endpointing import EndpointSettings, Endpointer, SpeechEnded, SpeechStarted
from voicebot.audio.vad import VoiceActivityDetector
from voicebot.events import CallEnded, CallStarted, DtmfPressed, NoInput, PlaybackInterrupted
from voicebot.session import metrics
from voicebot.session.base import CallIO
from voicebot.session.completeness import could_be_complete
from voicebot.session.dtmf import DtmfCollector
from voicebot.session.lookups import FillerDue, LookupRunner
from voicebot.session.pipeline import Pipeline
from voicebot.session.playback import BargeInDetector, PlaybackTracker
from voicebot.session.timers import Ticker, Timers
from voicebot.session.turn import TurnWorker

log = logging.getLogger(__name__)

NO_INPUT, INTERDIGIT, END_WAIT = "no_input", "interdigit", "end_wait"
TYPEAHEAD_KEYS = 16  # keys remembered while the bot is busy; older ones are dropped
_NEVER = 1e9  # the endpointer's own start timeout is off: the session's no-input timer rules


@dataclass(frozen=True)
class SessionSettings:
    """Per-deployment tuning of a call. Reaction time to barge-in is about ``barge_in_min_speech_s``."""

    barge_in_min_speech_s: float = 0.2  # speech shorter than this ("mhm", a cough) does not interrupt
    min_speech_s: float = 0.2  # the endpointer's minimum speech to start an utterance
    end_silence_s: float | None = None  # None: each Listen's own end_silence_s
    vad_engine: str = "silero"  # endpointing: accurate ends of turns
    barge_in_vad_engine: str = "webrtc"  # barge-in: fast onsets (meets the 300 ms target)
    calm_frustration: float = 0.6  # at or above: replies are spoken calm and slower
    max_end_wait_s: float = 20.0  # HangUp/Transfer wait at most this long for the last prompt
    tick_s: float = 0.05
    # Pause after which a buffered recogniser (Whisper) decodes the utterance so far, ahead of
    # the end-of-speech decision; None: never. Costs a wasted decode when the caller goes on.
    # When that decode is a complete answer for the Listen (``complete_when``), the turn ends
    # at once (voicebot.session.completeness).
    speculate_after_s: float | None = 0.15
    # Early decodes are quick (Whisper's short window) and kept only when final; if the caller
    # is still silent this long, the thorough decode (full window) runs too, so an answer that
    # is not complete (an off-menu question) is ready soon after the end-of-turn silence.
    thorough_after_s: float | None = 0.3


class VoiceCallSession:
    """Implements ``voicebot.session.base.CallSession`` for one call. Thread-safe."""

    def __init__(self, pipeline: Pipeline, io: CallIO, *, call_sid: str | None = None, clock: Callable[[], float] = time.monotonic,
                 settings: SessionSettings = SessionSettings(), channel: str = "voice"):
        self.pipeline, self.io, self.clock, self.settings = pipeline, io, clock, settings
        self.call_sid = call_sid or f"local-{uuid.uuid4().hex[:16]}"
        self._lock = threading.RLock()
        self._jobs: queue.Queue = queue.Queue()
        self._endpointer = Endpointer(VoiceActivityDetector(8000, engine=settings.vad_engine))
        self._tracker = PlaybackTracker()
        self._barge_in = BargeInDetector(VoiceActivityDetector(8000, engine=settings.barge_in_vad_engine, aggressiveness=3), settings.barge_in_min_speech_s)
        self._timers = Timers()
        self._lookups = LookupRunner(pipeline.lookup_pool, pipeline.data_sources.run, wake=self.tick)
        self._listen: Listen | None = None
        self._dtmf: DtmfCollector | None = None
        self._pending_end: HangUp | Transfer | None = None
        self._utterance: list[np.ndarray] = []  # audio of the utterance being captured (for speculation)
        self._voiced_ms, self._last_voiced_s, self._speculated_for, self._thorough_for = 0.0, 0.0, None, None
        self._started = self._stopped = self._ended = False
        self._typeahead = ""  # keys pressed while the bot was not listening yet
        self.barge_ins: list[tuple[str, float, float]] = []  # (speech|dtmf, heard_fraction, at)
        self.worker = TurnWorker(self, channel)
        self._thread = threading.Thread(target=self._run_worker, name=f"voicebot-call-{self.call_sid}", daemon=True)
        self._ticker = Ticker(self.tick, settings.tick_s, name=f"voicebot-tick-{self.call_sid}")

    # ---- channel side -------------------------------------------------------------------
    def start(self, caller: str = "", params: dict | None = None) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self._thread.start()
        self._ticker.start()
        self._jobs.put(("event", CallStarted(self.call_sid, caller=caller, channel=self.worker.channel, params=dict(params or {}))))

    def on_audio(self, pcm: np.ndarray) -> None:
        after: list[Callable[[], None]] = []
        with self._lock:
            if not self._started or self._stopped:
                return
            self._tick_locked(after)
            if self._listen is not None and not self._ended and not self._muted_by_prompt():
                self._feed_endpointer(np.asarray(pcm, dtype=np.int16), after)
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
        after: list[Callable[[], None]] = []
        with self._lock:
            self._tracker.on_mark(label, self.clock())
            self._after_playback_locked(after)
        _run(after)

    def on_stop(self, reason: str = "hangup") -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._timers.clear()
            self._lookups.cancel_all()
        self._ticker.stop()
        if self._started:
            self._jobs.put(("stop", reason))
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout=10.0)

    def tick(self) -> None:
        """Fire due timers and collect lookup results (called by frames and the ticker)."""
        after: list[Callable[[], None]] = []
        with self._lock:
            if self._stopped:
                return
            self._tick_locked(after)
        _run(after)

    # ---- worker side: called by TurnWorker while executing the flow's actions -------------------
    def queue_prompt(self, prompt, chunks: list[np.ndarray]) -> None:
        """Send a rendered prompt to the channel, chunk by chunk, each chunk followed by its mark."""
        with self._lock:
            if self._stopped:
                return
            if not self._tracker.playing:
                self._barge_in.reset()  # a new stretch of bot speech: count the caller's from zero
            self._tracker.add(prompt, self.clock())
        for chunk, label in zip(chunks, prompt.chunk_labels):
            self.io.play(chunk, label)

    def begin_listen(self, listen: Listen) -> None:
        after: list[Callable[[], None]] = []
        with self._lock:
            if self._stopped or self._ended:
                return
            self._listen, self._dtmf = listen, DtmfCollector.for_listen(listen)
            if not self._endpointer.in_speech:  # a barge-in utterance already being captured goes on
                end_silence = self.settings.end_silence_s or listen.end_silence_s
                self._endpointer.reset(EndpointSettings(_NEVER, end_silence, listen.max_utterance_s, self.settings.min_speech_s))
            if not self._tracker.playing:
                self._timers.start(NO_INPUT, self.clock() + listen.start_timeout_s)
            keys, self._typeahead = self._typeahead, ""
            for key in keys:  # answered before the question was asked
                if self._listen is not None:
                    self._press_locked(key, after)
        _run(after)

    def spoke_after(self, last_voiced_s: float) -> bool:
        """True when the caller has spoken again after ``last_voiced_s``: an early decode of the
        speech up to then is stale (the worker skips it rather than queue it on the recogniser)."""
        with self._lock:
            return self._last_voiced_s != last_voiced_s

    def end_turn_early(self, last_voiced_s: float) -> bool:
        """Semantic endpointing: the early decode of speech up to ``last_voiced_s`` is a complete
        answer, so end the utterance now instead of after the full end-of-turn silence. Refused
        (False) when the caller has spoken again since, or the utterance is already over."""
        with self._lock:
            if self._stopped or self._listen is None or not self._endpointer.in_speech or self._last_voiced_s != last_voiced_s:
                return False
            event = self._endpointer.end_now()
            metrics.EARLY_ENDS.inc()
            self._utterance_ended_locked(event, early=True)
            return True

    def begin_lookup(self, lookup: Lookup) -> None:
        with self._lock:
            if not self._stopped:
                self._lookups.start(lookup, self.clock())

    def end_after_playback(self, action: HangUp | Transfer) -> None:
        """Run ``action`` once the queued prompts were heard (or after ``max_end_wait_s``)."""
        after: list[Callable[[], None]] = []
        with self._lock:
            self._ended = True
            self._listen = None
            self._timers.cancel(NO_INPUT, INTERDIGIT)
            self._pending_end = action
            self._timers.start(END_WAIT, self.clock() + self.settings.max_end_wait_s)
            self._after_playback_locked(after)
        _run(after)

    # ---- internals (called with the lock held) --------------------------------------------
    def _press_locked(self, digit: str, after: list) -> None:
        if self._tracker.playing and not self._tracker.current.interruptible:
            return
        now = self.clock()
        if self._tracker.playing:
            self._barge_in_locked("dtmf", after)
        self._timers.cancel(NO_INPUT)
        digits = self._dtmf.press(digit, now)
        if digits is not None:
            self._finish_listen_locked(DtmfPressed(digits), after)
        elif self._dtmf.collecting:
            self._timers.start(INTERDIGIT, now + self._dtmf.interdigit_timeout_s)

    def _muted_by_prompt(self) -> bool:
        """Caller audio over a non-interruptible prompt is ignored, not captured."""
        return self._tracker.playing and not self._tracker.current.interruptible

    def _feed_endpointer(self, pcm: np.ndarray, after: list) -> None:
        ep = self._endpointer
        event = ep.feed(pcm)
        if isinstance(event, SpeechStarted):
            self._timers.cancel(NO_INPUT)
            self._jobs.put(("asr_open", self._listen))
            self._utterance, self._voiced_ms, self._speculated_for, self._thorough_for = [], 0.0, None, None
        if len(ep.to_forward):
            self._utterance.append(ep.to_forward)
            self._jobs.put(("asr_feed", ep.to_forward))
        if ep.in_speech:
            self._maybe_speculate(ep)
        if self._tracker.playing:  # only an interruptible prompt gets here (see on_audio)
            fast_onset = self._barge_in.feed(pcm)
            if fast_onset or (ep.in_speech and ep.speech_ms >= 1000 * self.settings.barge_in_min_speech_s - 1e-6):
                self._barge_in_locked("speech", after)
        if isinstance(event, SpeechEnded):
            self._utterance_ended_locked(event, early=False)

    def _utterance_ended_locked(self, event: SpeechEnded, early: bool) -> None:
        # stream time since the last speech frame = how long endpointing waited
        endpoint_s = max(0.0, self._endpointer.now_s - event.last_speech_at_s)
        self._listen = None
        self._dtmf = None
        self._timers.cancel(NO_INPUT, INTERDIGIT)
        self._jobs.put(("asr_finish", event, endpoint_s, time.perf_counter(), early))

    def _maybe_speculate(self, ep: Endpointer) -> None:
        """After a short pause, decode what was said so far while endpointing still waits (quick,
        then, if the pause lasts ``thorough_after_s``, thorough); if the caller stays silent the
        turn uses a final result and skips the decode after the end."""
        if ep.speech_ms > self._voiced_ms:
            self._voiced_ms, self._last_voiced_s = ep.speech_ms, ep.now_s
            return
        pause_s = ep.now_s - self._last_voiced_s
        s = self.settings
        if not could_be_complete(self._listen, self._voiced_ms / 1000):
            return
        if s.speculate_after_s is not None and self._speculated_for != self._last_voiced_s and pause_s >= s.speculate_after_s:
            self._speculated_for = self._last_voiced_s
            self._jobs.put(("asr_speculate", np.concatenate(self._utterance), self._last_voiced_s, self._listen, False))
        elif s.thorough_after_s is not None and self._thorough_for != self._last_voiced_s and pause_s >= s.thorough_after_s:
            self._thorough_for = self._last_voiced_s
            self._jobs.put(("asr_speculate", np.concatenate(self._utterance), self._last_voiced_s, self._listen, True))

    def _barge_in_locked(self, by: str, after: list) -> None:
        self._barge_in.reset()
        heard = self._tracker.heard_fraction(self.clock())
        self._tracker.clear()
        self.barge_ins.append((by, heard, self.clock()))
        metrics.BARGE_INS.labels(by).inc()
        after.append(self.io.clear)
        self._jobs.put(("event", PlaybackInterrupted(heard)))

    def _finish_listen_locked(self, event, after: list) -> None:
        self._listen = None
        self._dtmf = None
        self._timers.cancel(NO_INPUT, INTERDIGIT)
        if self._endpointer.in_speech:
            self._endpointer.reset()
            self._jobs.put(("asr_drop",))
        self._jobs.put(("event", event))

    def _after_playback_locked(self, after: list) -> None:
        if self._tracker.playing:
            return
        if self._pending_end is not None:
            action, self._pending_end = self._pending_end, None
            self._timers.cancel(END_WAIT)
            self._jobs.put(("end", action))
        elif self._listen is not None and not self._endpointer.in_speech and not (self._dtmf and self._dtmf.collecting):
            if not self._timers.active(NO_INPUT):
                self._timers.start(NO_INPUT, self.clock() + self._listen.start_timeout_s)

    def _tick_locked(self, after: list) -> None:
        now = self.clock()
        for name in self._timers.pop_due(now):
            if name == NO_INPUT and self._listen is not None and not self._endpointer.in_speech:
                metrics.NO_INPUTS.inc()
                self._finish_listen_locked(NoInput(), after)
            elif name == INTERDIGIT and self._dtmf is not None:
                digits = self._dtmf.poll(now + 1e-9)
                if digits:
                    self._finish_listen_locked(DtmfPressed(digits), after)
            elif name == END_WAIT and self._pending_end is not None:
                self._tracker.clear()
                self._after_playback_locked(after)
        for outcome in self._lookups.poll(now):
            if isinstance(outcome, FillerDue):
                metrics.LOOKUP_FILLERS.inc()
                self._jobs.put(("say", Say(outcome.lookup.filler)))
            else:
                self._jobs.put(("event", outcome))

    def _run_worker(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job[0] == "stop":
                    self.worker.stop(CallEnded(job[1]))
                    return
                self.worker.handle(job)
            except Exception:  # one bad turn must not kill the call
                log.exception("call %s: error handling %s", self.call_sid, job[0])
                metrics_error()
            finally:
                self._jobs.task_done()

    @property
    def idle(self) -> bool:
        """True when nothing is in progress: no utterance being captured, no turn, prompt or lookup."""
        with self._lock:
            return self._jobs.unfinished_tasks == 0 and not self._lookups.busy and not self._endpointer.in_speech \
                and not (self._dtmf is not None and self._dtmf.collecting)

    @property
    def alive_threads(self) -> list[threading.Thread]:
        """This call's threads still running (empty after ``on_stop``)."""
        return [t for t in (self._thread, self._ticker._thread) if t.is_alive()]


def session_factory(call_sid: str, io: CallIO, state: Any) -> VoiceCallSession:
    """``AppState.session_factory``: a session for ``call_sid`` using the app's pipeline."""
    return VoiceCallSession(state.pipeline, io, call_sid=call_sid)


def _run(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:  # channel calls happen outside the lock: they may call us back
        callback()


def metrics_error() -> None:
    from voicebot.web.metrics import ERRORS

    ERRORS.labels("session").inc()
