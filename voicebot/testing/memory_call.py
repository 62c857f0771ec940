"""A call in memory, on one clock: ``RecordingCallIO`` plays the bot's audio on the session's
clock the way Twilio does (in order, echoing each mark when its audio has been played, dropping
queued audio on ``clear``) and records everything; ``CallDriver`` feeds caller audio and keys to
a ``VoiceCallSession`` frame by frame on a ``FrameClock`` (virtual time).

Used by tests without a network in between. It is a channel, not a fake stage: the session,
models and flow behind it are the real ones.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from voicebot.handoff.context import Handoff
from voicebot.session.base import FRAME_SAMPLES, SAMPLE_RATE
from voicebot.session.timers import FrameClock

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


@dataclass
class ChannelEvent:
    kind: str  # play / mark / clear / transfer / hangup
    at: float
    label: str = ""
    detail: Any = None


@dataclass
class RecordingCallIO:
    """``CallIO`` that plays on ``clock`` time. Call ``advance()`` as time passes (each frame)."""

    clock: Callable[[], float]
    on_mark: Callable[[str], None] | None = None  # usually ``session.on_mark``
    events: list[ChannelEvent] = field(default_factory=list)
    played: list[np.ndarray] = field(default_factory=list)  # what the caller heard, in order
    _queue: deque = field(default_factory=deque)  # [pcm, label], audio not yet played
    _played_until: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def play(self, pcm: np.ndarray, label: str) -> None:
        with self._lock:
            now = self.clock()
            if not self._queue:
                self._played_until = now
            self._queue.append([np.asarray(pcm, dtype=np.int16), label])
            self.events.append(ChannelEvent("play", now, label, len(pcm) / SAMPLE_RATE))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.events.append(ChannelEvent("clear", self.clock()))

    def transfer(self, handoff: Handoff) -> None:
        with self._lock:
            self.events.append(ChannelEvent("transfer", self.clock(), handoff.reason, handoff))

    def hangup(self, reason: str) -> None:
        with self._lock:
            self.events.append(ChannelEvent("hangup", self.clock(), reason))

    @property
    def busy(self) -> bool:
        """True while audio is queued (the bot is talking)."""
        with self._lock:
            return bool(self._queue)

    def advance(self) -> None:
        """Play queued audio up to the clock's now; echo the marks of finished chunks."""
        marks: list[str] = []
        with self._lock:
            now = self.clock()
            while self._queue and self._played_until is not None:
                pcm, label = self._queue[0]
                budget = int(round((now - self._played_until) * SAMPLE_RATE))
                if budget <= 0:
                    break
                take = pcm[:budget]
                if len(take):
                    self.played.append(take)
                self._played_until += len(take) / SAMPLE_RATE
                self._queue[0][0] = pcm = pcm[len(take):]
                if len(pcm) == 0:
                    self._queue.popleft()
                    self.events.append(ChannelEvent("mark", self._played_until, label))
                    marks.append(label)
            if not self._queue:
                self._played_until = None
        for label in marks:
            if self.on_mark is not None:
                self.on_mark(label)

    def of_kind(self, kind: str) -> list[ChannelEvent]:
        with self._lock:
            return [e for e in self.events if e.kind == kind]

    def audio(self) -> np.ndarray:
        """All bot audio the caller heard, concatenated (8 kHz int16)."""
        with self._lock:
            return np.concatenate(self.played) if self.played else np.zeros(0, dtype=np.int16)


class CallDriver:
    """Plays the caller on one clock: feeds 20 ms frames to ``session``, advancing the session's
    ``FrameClock`` and the channel, and between frames lets the call's work finish
    (``settle``). Recognition, understanding, the flow and speech therefore take no call time:
    what the caller hears and when timers fire depend on the audio alone, not on how fast this
    machine is. Lookups are outside work: the driver waits up to ``lookup_grace_s`` of real time
    for each one; a lookup still running after that is slow, and while it runs call time follows
    real time (a frame per 20 ms), so it meets its filler and its timeout as on a phone line."""

    def __init__(self, session, io: RecordingCallIO, clock: FrameClock, *, lookup_grace_s: float = 2.0,
                 work_timeout_s: float = 120.0):
        self.session, self.io, self.clock = session, io, clock
        self.lookup_grace_s = lookup_grace_s
        self.work_timeout_s = work_timeout_s
        self._waited_for: set[str] = set()  # lookups already given their grace

    def settle(self) -> bool:
        """Wait until the worker has done every queued job and running lookups are done (or had
        their grace); True while a slow lookup runs. A worker stuck past ``work_timeout_s`` is a
        bug: ``AssertionError``."""
        while True:
            if not self.session.join_work(self.work_timeout_s):
                raise AssertionError(f"the call's worker did not finish its jobs within {self.work_timeout_s:g} s")
            running = set(self.session.running_lookups)
            waiting = running - self._waited_for
            if not waiting:
                return bool(running)
            deadline = time.monotonic() + self.lookup_grace_s
            while waiting & set(self.session.running_lookups) and time.monotonic() < deadline:
                time.sleep(0.002)
                self.session.tick()  # a finished lookup becomes the flow's next job
            self._waited_for |= waiting

    def frame(self, pcm: np.ndarray | None = None) -> None:
        pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16) if pcm is None else pcm
        if self.settle():  # a slow lookup runs: call time follows real time
            time.sleep(FRAME_S)
        self.clock.advance(FRAME_S)
        self.io.advance()
        self.session.on_audio(pcm)
        self.settle()

    def say(self, pcm: np.ndarray) -> None:
        """Speak ``pcm`` (8 kHz int16), frame by frame."""
        pcm = np.asarray(pcm, dtype=np.int16)
        pad = (-len(pcm)) % FRAME_SAMPLES
        pcm = np.concatenate([pcm, np.zeros(pad, dtype=np.int16)])
        for start in range(0, len(pcm), FRAME_SAMPLES):
            self.frame(pcm[start : start + FRAME_SAMPLES])

    def silence(self, seconds: float) -> None:
        for _ in range(int(round(seconds / FRAME_S))):
            self.frame()

    def press(self, keys: str) -> None:
        for key in keys:
            self.settle()
            self.session.on_dtmf(key)
            self.frame()

    def until(self, condition: Callable[[], bool], max_s: float = 30.0) -> bool:
        """Feed silence until ``condition()`` holds (True) or ``max_s`` of call time passed (False)."""
        self.settle()
        deadline = self.clock() + max_s
        while self.clock() < deadline:
            if condition():
                return True
            self.frame()
        return condition()

    def until_quiet(self, max_s: float = 30.0) -> bool:
        """Feed silence until the bot has said everything it queued and is waiting."""
        return self.until(lambda: not self.io.busy and self.session.idle, max_s)
