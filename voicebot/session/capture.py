"""``UtteranceCapture``: the caller's speech, frame by frame, turned into the worker's
recognition jobs.

It owns the endpointer (when does an utterance start and end) and the early-decode triggers
(after a short pause, decode what was said so far while endpointing still waits). It is plain
state driven by the session under its lock: ``feed`` returns the jobs to queue, in order.

Between a silence timeout and the reprompt's question no listen is open, but the caller may
have started answering just as the bot gave up waiting. From ``hold_from_now`` the session
``hold``s that audio; the last ``HOLD_S`` of it is fed first when the next question opens
(``take_held``), so that answer keeps its first word. After an answer or a key nothing is held:
speech right after an answer is the tail of it, not the next answer.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from voicebot.actions import Listen
from voicebot.audio.endpointing import EndpointSettings, Endpointer, SpeechEnded, SpeechStarted
from voicebot.audio.vad import VoiceActivityDetector
from voicebot.session.base import FRAME_MS
from voicebot.session.completeness import could_be_complete
from voicebot.session.jobs import EarlyDecode, FeedAudio, FinishUtterance, Job, OpenRecognition

NEVER_S = 1e9  # the endpointer's own start timeout is off: the session's no-input timer rules
HOLD_S = 0.5  # caller audio kept while no question is open


@dataclass
class Captured:
    """What one frame did: whether an utterance started, the recognition jobs to queue, and
    the utterance's end (queued last, after any barge-in the same frame caused)."""

    jobs: list[Job] = field(default_factory=list)
    started: bool = False
    finish: FinishUtterance | None = None


class UtteranceCapture:
    """Endpointing plus early decodes of one call. Not thread-safe (the session's lock guards it).

    ``speculate_after_s``: pause after which a quick early decode runs (None: never);
    ``thorough_after_s``: a longer pause after which the thorough decode runs too."""

    def __init__(self, vad: VoiceActivityDetector, *, min_speech_s: float, speculate_after_s: float | None,
                 thorough_after_s: float | None):
        self.endpointer = Endpointer(vad)
        self.min_speech_s = min_speech_s
        self.speculate_after_s = speculate_after_s
        self.thorough_after_s = thorough_after_s
        self._chunks: list[np.ndarray] = []  # audio of the utterance so far (for early decodes)
        self._voiced_ms = 0.0
        self.last_voiced_s = 0.0  # stream time of the last voiced frame
        self._quick_for: float | None = None  # the pause (by its last_voiced_s) already decoded quickly
        self._thorough_for: float | None = None
        self._held: deque[np.ndarray] = deque(maxlen=round(1000 * HOLD_S / FRAME_MS))
        self._holding = False

    def hold_from_now(self) -> None:
        """The question ended in silence: keep what the caller says until the next one opens."""
        self._holding = True

    def hold(self, pcm: np.ndarray) -> None:
        """A frame heard while no question is open: kept after ``hold_from_now`` (the last ``HOLD_S``)."""
        if self._holding:
            self._held.append(np.array(pcm, dtype=np.int16))

    def forget_held(self) -> None:
        """Drop the kept frames (the caller spoke over something they may not interrupt)."""
        self._held.clear()

    def take_held(self) -> list[np.ndarray]:
        """The kept frames, oldest first, to feed once a question has opened; the store is emptied."""
        held = list(self._held)
        self._held.clear()
        self._holding = False
        return held

    @property
    def in_speech(self) -> bool:
        return self.endpointer.in_speech

    @property
    def speech_ms(self) -> float:
        return self.endpointer.speech_ms

    def listen(self, end_silence_s: float, max_utterance_s: float) -> None:
        """A new question: endpoint with these settings. An utterance already being captured (the
        caller barged in) goes on."""
        if not self.endpointer.in_speech:
            self.endpointer.reset(EndpointSettings(NEVER_S, end_silence_s, max_utterance_s, self.min_speech_s))

    def drop(self) -> bool:
        """Abandon the utterance being captured; True when there was one."""
        if not self.endpointer.in_speech:
            return False
        self.endpointer.reset()
        return True

    def feed(self, pcm: np.ndarray, listen: Listen | None) -> Captured:
        """One 20 ms frame of caller audio while ``listen`` is open."""
        ep, out = self.endpointer, Captured()
        event = ep.feed(pcm)
        if isinstance(event, SpeechStarted):
            out.started = True
            out.jobs.append(OpenRecognition(listen))
            self._chunks, self._voiced_ms, self._quick_for, self._thorough_for = [], 0.0, None, None
        if len(ep.to_forward):
            self._chunks.append(ep.to_forward)
            out.jobs.append(FeedAudio(ep.to_forward))
        if ep.in_speech:
            early = self._early_decode(listen)
            if early is not None:
                out.jobs.append(early)
        if isinstance(event, SpeechEnded):
            out.finish = self._finish(event, early=False)
        return out

    def end_now(self, last_voiced_s: float) -> FinishUtterance | None:
        """Semantic endpointing: end the utterance now if nothing was said after ``last_voiced_s``."""
        if not self.endpointer.in_speech or self.last_voiced_s != last_voiced_s:
            return None
        return self._finish(self.endpointer.end_now(), early=True)

    def _finish(self, event: SpeechEnded, early: bool) -> FinishUtterance:
        endpoint_s = max(0.0, self.endpointer.now_s - event.last_speech_at_s)  # how long endpointing waited
        return FinishUtterance(event, endpoint_s, time.perf_counter(), early)

    def _early_decode(self, listen: Listen | None) -> EarlyDecode | None:
        """After a short pause, decode what was said so far (quick; then, if the pause lasts
        ``thorough_after_s``, thorough): if the caller stays silent the turn uses that result."""
        ep = self.endpointer
        if ep.speech_ms > self._voiced_ms:
            self._voiced_ms, self.last_voiced_s = ep.speech_ms, ep.now_s
            return None
        pause_s = ep.now_s - self.last_voiced_s
        if not could_be_complete(listen, self._voiced_ms / 1000):
            return None
        if self.speculate_after_s is not None and self._quick_for != self.last_voiced_s and pause_s >= self.speculate_after_s:
            self._quick_for = self.last_voiced_s
            return EarlyDecode(np.concatenate(self._chunks), self.last_voiced_s, listen, thorough=False)
        if self.thorough_after_s is not None and self._thorough_for != self.last_voiced_s and pause_s >= self.thorough_after_s:
            self._thorough_for = self.last_voiced_s
            return EarlyDecode(np.concatenate(self._chunks), self.last_voiced_s, listen, thorough=True)
        return None
