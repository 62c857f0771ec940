"""What the caller is hearing: prompts queued on the channel and how far playback got.

Each prompt is sent in short chunks, each followed by a mark, so the marks the channel echoes
say how much of it was played (for ``PlaybackInterrupted.heard_fraction`` on barge-in);
between marks the clock fills in. Whether speech counts as barge-in is decided by the
endpointer's minimum speech duration (``voicebot.audio.endpointing``).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from voicebot.session.base import SAMPLE_RATE

CHUNK_S = 0.5  # mark granularity: heard_fraction is exact to this, estimated in between
GAP_FRAMES = 2  # barge-in: frames inside an onset the VAD may call silence (docs/latency.md)


@dataclass
class QueuedPrompt:
    """One prompt on the channel: its chunk labels and durations, and how many were heard."""

    label: str
    text: str
    interruptible: bool
    chunk_labels: list[str]
    chunk_s: list[float]
    started_at: float | None = None
    progress_at: float | None = None
    echoed: int = 0

    @property
    def duration_s(self) -> float:
        return sum(self.chunk_s)

    def heard_s(self, now: float) -> float:
        done = sum(self.chunk_s[: self.echoed])
        if self.progress_at is None or self.echoed >= len(self.chunk_s):
            return done
        return done + min(max(0.0, now - self.progress_at), self.chunk_s[self.echoed])


def split_chunks(pcm: np.ndarray, chunk_s: float = CHUNK_S) -> list[np.ndarray]:
    """Cut audio into chunks of ``chunk_s`` seconds (the last one shorter)."""
    step = max(1, int(chunk_s * SAMPLE_RATE))
    return [pcm[i : i + step] for i in range(0, len(pcm), step)] or [pcm[:0]]


class PlaybackTracker:
    """What the caller is hearing now. Not thread-safe: the session calls it under its lock."""

    def __init__(self) -> None:
        self._queue: list[QueuedPrompt] = []

    def add(self, prompt: QueuedPrompt, now: float) -> None:
        if not self._queue:
            prompt.started_at = prompt.progress_at = now
        self._queue.append(prompt)

    @property
    def playing(self) -> bool:
        return bool(self._queue)

    @property
    def current(self) -> QueuedPrompt | None:
        return self._queue[0] if self._queue else None

    def on_mark(self, label: str, now: float) -> QueuedPrompt | None:
        """Record an echoed mark; return the prompt it finished, if it was that prompt's last chunk."""
        for index, prompt in enumerate(self._queue):
            if label in prompt.chunk_labels:
                break
        else:
            return None  # a mark of cleared audio, or a channel's own mark
        # marks come in order: anything queued before this prompt has been heard too
        del self._queue[:index]
        prompt.echoed = max(prompt.echoed, prompt.chunk_labels.index(label) + 1)
        prompt.progress_at = now
        if prompt.echoed < len(prompt.chunk_labels):
            return None
        self._queue.pop(0)
        if self._queue:
            self._queue[0].started_at = self._queue[0].progress_at = now
        return prompt

    def heard_fraction(self, now: float) -> float:
        """Fraction of the current prompt played so far (0 when nothing plays)."""
        prompt = self.current
        if prompt is None or prompt.duration_s <= 0:
            return 0.0
        return round(min(1.0, prompt.heard_s(now) / prompt.duration_s), 3)

    def clear(self) -> list[QueuedPrompt]:
        """Forget everything queued (after ``io.clear()``); return what was dropped."""
        dropped, self._queue = self._queue, []
        return dropped


class BargeInDetector:
    """Fast speech onset for barge-in: a cheap per-frame VAD (WebRTC by default) and a minimum
    of voiced frames within a short window, so "mhm", a cough or line noise shorter than
    ``min_speech_s`` does not stop the bot. Separate from the endpointer's VAD, which favours accuracy over speed
    (Silero reacts up to ~0.4 s after a soft onset; WebRTC in ~0.14 s, measured on the fixtures).
    """

    def __init__(self, vad, min_speech_s: float = 0.2, frame_s: float = 0.02, gap_frames: int = GAP_FRAMES):
        self.vad = vad
        self.min_frames = max(1, round(min_speech_s / frame_s))
        self._recent: deque[bool] = deque(maxlen=self.min_frames + gap_frames)

    def reset(self) -> None:
        self._recent.clear()
        self.vad.reset()

    def feed(self, frame: np.ndarray) -> bool:
        """One 20 ms frame; True when ``min_speech_s`` of the last ``min_speech_s`` plus
        ``gap_frames`` frames were speech (a frame or two the VAD drops inside an onset does
        not start the count again)."""
        self._recent.append(self.vad.is_speech(frame))
        return sum(self._recent) >= self.min_frames


class Playback:
    """What the caller is hearing (``PlaybackTracker``) and whether they talk over it
    (``BargeInDetector``). Not thread-safe: the session calls it under its lock."""

    def __init__(self, barge_in: BargeInDetector):
        self.tracker = PlaybackTracker()
        self.barge_in = barge_in

    @property
    def playing(self) -> bool:
        return self.tracker.playing

    @property
    def muted(self) -> bool:
        """The prompt playing cannot be interrupted: caller input is ignored, not captured."""
        return self.tracker.playing and not self.tracker.current.interruptible

    def add(self, prompt: QueuedPrompt, now: float) -> None:
        if not self.tracker.playing:
            self.barge_in.reset()  # a new stretch of bot speech: count the caller's from zero
        self.tracker.add(prompt, now)

    def talked_over(self, frame: np.ndarray, speech_ms: float, min_speech_s: float) -> bool:
        """True when the caller is speaking over an interruptible prompt: a fast onset on
        ``frame``, or ``speech_ms`` of speech already captured by the endpointer."""
        fast_onset = self.barge_in.feed(frame)
        return fast_onset or speech_ms >= 1000 * min_speech_s - 1e-6

    def interrupt(self, now: float) -> float:
        """Stop tracking what plays (the channel clears it); the fraction of the prompt heard."""
        self.barge_in.reset()
        heard = self.tracker.heard_fraction(now)
        self.tracker.clear()
        return heard
