"""Endpointing: turns a stream of 20 ms frames into "speech started / ended / never came".

Time is stream time (number of samples fed / sample rate), never the wall clock, so the same
audio always gives the same events. One ``Endpointer`` per listen; ``reset()`` re-arms it.

Streaming recognition: after every ``feed`` the attribute ``to_forward`` holds the samples the
recogniser should receive now (pre-roll + frame when speech starts, each frame while the
utterance lasts, nothing outside it), so decoding can run while the caller is still talking::

    event = endpointer.feed(frame)
    if isinstance(event, SpeechStarted):
        stream = asr.stream(8000, grammar)
    if len(endpointer.to_forward):
        stream.accept(endpointer.to_forward)
    if isinstance(event, SpeechEnded):
        result = stream.finish()
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from voicebot.audio.vad import VoiceActivityDetector


@dataclass(frozen=True)
class EndpointSettings:
    """Per-prompt timing. ``start_timeout_s``: give up (``NoSpeech``) if speech has not started
    by then; ``end_silence_s``: this much silence after speech ends the utterance;
    ``max_utterance_s``: an utterance is cut (``SpeechEnded``) at this length;
    ``min_speech_s``: speech must last this long before it counts as started."""

    start_timeout_s: float = 6.0
    end_silence_s: float = 0.7
    max_utterance_s: float = 15.0
    min_speech_s: float = 0.2


@dataclass(frozen=True)
class SpeechStarted:
    """The caller started speaking at stream time ``at_s`` (start of the first speech frame)."""

    at_s: float


@dataclass(frozen=True)
class SpeechEnded:
    """The utterance is over. ``audio``: int16 PCM from a little before speech started to
    shortly after ``last_speech_at_s`` (end of the last speech frame, stream seconds)."""

    audio: np.ndarray
    last_speech_at_s: float
    started_at_s: float = 0.0
    truncated: bool = False  # True when cut at max_utterance_s


@dataclass(frozen=True)
class NoSpeech:
    """No speech started within ``start_timeout_s``."""


EndpointEvent = SpeechStarted | SpeechEnded | NoSpeech

_EMPTY = np.zeros(0, dtype=np.int16)


class Endpointer:
    """Feeds frames through a VAD and emits at most one start and one end per listen.

    States: waiting -> in speech -> done (after ``SpeechEnded`` or ``NoSpeech``, ``feed``
    returns None until ``reset()``).
    """

    def __init__(self, vad: VoiceActivityDetector | None = None, settings: EndpointSettings = EndpointSettings(), sample_rate: int = 8000, pre_roll_s: float = 0.3, tail_s: float = 0.2):
        self.vad = vad or VoiceActivityDetector(sample_rate)
        self.settings = settings
        self.sample_rate = sample_rate
        self.pre_roll_s = pre_roll_s
        self.tail_s = tail_s
        self.reset()

    def reset(self, settings: EndpointSettings | None = None) -> None:
        """Re-arm for a new listen (optionally with new settings); stream time restarts at 0."""
        if settings is not None:
            self.settings = settings
        self.vad.reset()
        self._samples_fed = 0
        self._state = "waiting"
        self._recent: deque[tuple[np.ndarray, bool]] = deque()  # frames before start, newest last
        self._utterance: list[np.ndarray] = []
        self._run_start_s: float | None = None  # start of the current speech run (waiting)
        self._started_at_s = 0.0
        self._last_speech_s = 0.0
        self._speech_samples = 0
        self.to_forward: np.ndarray = _EMPTY

    @property
    def now_s(self) -> float:
        """Stream seconds fed so far."""
        return self._samples_fed / self.sample_rate

    @property
    def in_speech(self) -> bool:
        """True between ``SpeechStarted`` and ``SpeechEnded``."""
        return self._state == "speech"

    @property
    def done(self) -> bool:
        return self._state == "done"

    @property
    def speech_ms(self) -> float:
        """Milliseconds of speech frames in the current speech run or utterance (0 when none).
        A barge-in detector can require e.g. ``speech_ms >= 300`` before interrupting."""
        return 1000.0 * self._speech_samples / self.sample_rate

    def feed(self, frame: np.ndarray) -> EndpointEvent | None:
        """Feed the next frame (int16 at ``sample_rate``); return an event if one happened."""
        frame = np.asarray(frame, dtype=np.int16)
        self.to_forward = _EMPTY
        if self._state == "done":
            return None
        frame_start_s = self.now_s
        speech = self.vad.is_speech(frame)
        self._samples_fed += len(frame)
        if self._state == "waiting":
            return self._feed_waiting(frame, speech, frame_start_s)
        return self._feed_speech(frame, speech)

    def _feed_waiting(self, frame: np.ndarray, speech: bool, frame_start_s: float) -> EndpointEvent | None:
        s = self.settings
        self._recent.append((frame, speech))
        if speech:
            if self._run_start_s is None:
                self._run_start_s = frame_start_s
            self._speech_samples += len(frame)
            self._last_speech_s = self.now_s
        else:
            self._run_start_s = None
            self._speech_samples = 0
        keep_s = self.pre_roll_s + s.min_speech_s + 0.1
        while sum(len(f) for f, _ in self._recent) > keep_s * self.sample_rate:
            self._recent.popleft()
        if self._run_start_s is not None and self.now_s - self._run_start_s >= s.min_speech_s - 1e-9:
            self._state = "speech"
            self._started_at_s = self._run_start_s
            keep = int((self.now_s - self._run_start_s + self.pre_roll_s) * self.sample_rate)
            audio = np.concatenate([f for f, _ in self._recent])[-keep:]
            self._recent.clear()
            self._utterance = [audio]
            self.to_forward = audio
            return SpeechStarted(at_s=self._started_at_s)
        if self.now_s >= s.start_timeout_s - 1e-9:
            self._state = "done"
            return NoSpeech()
        return None

    def _feed_speech(self, frame: np.ndarray, speech: bool) -> EndpointEvent | None:
        s = self.settings
        self._utterance.append(frame)
        self.to_forward = frame
        if speech:
            self._speech_samples += len(frame)
            self._last_speech_s = self.now_s
        truncated = self.now_s - self._started_at_s >= s.max_utterance_s - 1e-9
        if truncated or self.now_s - self._last_speech_s >= s.end_silence_s - 1e-9:
            return self._end(truncated)
        return None

    def end_now(self) -> SpeechEnded | None:
        """End the utterance being captured at once, without waiting for ``end_silence_s``
        (the caller's answer is already known to be complete); None when not in speech."""
        if self._state != "speech":
            return None
        self.to_forward = _EMPTY
        return self._end(False)

    def _end(self, truncated: bool) -> SpeechEnded:
        self._state = "done"
        audio = np.concatenate(self._utterance)
        cut = int(round((self.now_s - min(self.now_s, self._last_speech_s + self.tail_s)) * self.sample_rate))
        if cut:
            audio = audio[:-cut]
        self._utterance = []
        return SpeechEnded(audio=audio, last_speech_at_s=self._last_speech_s, started_at_s=self._started_at_s, truncated=truncated)
