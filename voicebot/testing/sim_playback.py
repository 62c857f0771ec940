"""What the simulated caller hears: the bot's audio played out in real time, as Twilio would.

Frames are "played" back to back from when they arrive; a mark is due once the audio before
it has played; ``clear`` stops playback at once, drops what had not played yet and makes every
pending mark due immediately (Twilio's documented behaviour). Time is ``clock`` (injectable:
the model can be checked on virtual time).
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

FRAME_S = 0.02
GAP = np.zeros(1600, dtype=np.int16)  # 0.2 s between prompts in the recording


class BotPlayback:
    """Thread-safe: the reader thread feeds it, the sending loop asks it questions.

    ``elapsed()``: call-relative seconds for the timeline; ``clock()``: the time playback runs
    on; ``position()``: caller frames sent so far (``reply_position`` records it when the
    expected reply's first frame arrives: the reply's latency in stream time).
    """

    def __init__(self, elapsed: Callable[[], float], clock: Callable[[], float] = time.monotonic,
                 position: Callable[[], int] = lambda: 0):
        self._elapsed, self._clock, self._position = elapsed, clock, position
        self._lock = threading.Lock()
        self.play_end = 0.0
        self.segment_start = 0.0
        self.last_media_at = 0.0
        self.frames_received = 0
        self.clear_times: list[float] = []  # every clear's clock time, in order
        self.reply_at: float | None = None
        self.reply_position: int | None = None
        self._expect_after: float | None = None
        self._pending_marks: list[tuple[str, float]] = []
        self._buffer: list[np.ndarray] = []
        self._buffer_t: float | None = None
        self.prompts: list[dict] = []
        self.prompt_audio: dict[str, np.ndarray] = {}

    def media(self, pcm: np.ndarray) -> None:
        now = self._clock()
        with self._lock:
            if self.play_end <= now:
                self.segment_start = now
            self.play_end = max(self.play_end, now) + FRAME_S
            self.last_media_at = now
            self.frames_received += 1
            if self._buffer_t is None:
                self._buffer_t = self._elapsed()
            self._buffer.append(pcm)
            if self._expect_after is not None and self.reply_at is None and now >= self._expect_after:
                self.reply_at, self.reply_position = now, self._position()

    def mark(self, label: str) -> None:
        with self._lock:
            self._pending_marks.append((label, self.play_end))
            self._close_prompt(label, cleared=False)

    def clear(self) -> None:
        now = self._clock()
        with self._lock:
            unplayed = int(max(0.0, self.play_end - now) / FRAME_S + 1e-9)  # whole frames (float noise aside)
            if self._buffer:
                self._close_prompt("(cleared)", cleared=True, drop_frames=unplayed)
            elif self.prompts and unplayed:  # its mark came, its audio had not all played
                last = self.prompts[-1]
                audio = self.prompt_audio[last["label"]]
                self.prompt_audio[last["label"]] = audio[: max(0, len(audio) - unplayed * 160)]
                last["cleared"] = True
                last["seconds"] = round(len(self.prompt_audio[last["label"]]) / 8000, 2)
            self.play_end = now
            self._pending_marks = [(name, 0.0) for name, _ in self._pending_marks]
            self.clear_times.append(now)

    @property
    def clears(self) -> int:
        return len(self.clear_times)

    @property
    def last_clear_at(self) -> float:
        return self.clear_times[-1] if self.clear_times else 0.0

    def clear_after(self, clears_before: int) -> float | None:
        """The time of the first clear after the first ``clears_before`` (None if none came yet):
        a barge-in's reaction, even when a long interruption cuts a later prompt too."""
        with self._lock:
            return self.clear_times[clears_before] if len(self.clear_times) > clears_before else None

    def due_marks(self) -> list[str]:
        now = self._clock()
        with self._lock:
            due = [name for name, at in self._pending_marks if at <= now]
            self._pending_marks = [(name, at) for name, at in self._pending_marks if at > now]
            return due

    def expect_reply_after(self, t: float) -> None:
        with self._lock:
            self._expect_after, self.reply_at, self.reply_position = t, None, None

    def quiet_for(self) -> float:
        """Seconds since the bot last made a sound (negative while it is still playing)."""
        with self._lock:
            return self._clock() - max(self.play_end, self.last_media_at)

    def speaking_for(self) -> float:
        """Seconds the current prompt has been playing (-1 when the bot is quiet)."""
        now = self._clock()
        with self._lock:
            return now - self.segment_start if self.play_end > now else -1.0

    def all_audio(self) -> np.ndarray:
        with self._lock:
            parts = []
            for prompt in self.prompts:
                parts += [self.prompt_audio[prompt["label"]], GAP]
            parts += self._buffer
            return np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, dtype=np.int16)

    def _close_prompt(self, label: str, cleared: bool, drop_frames: int = 0) -> None:
        frames = self._buffer[: len(self._buffer) - drop_frames] if drop_frames else self._buffer
        audio = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)
        key = label
        n = 2
        while key in self.prompt_audio:
            key, n = f"{label}#{n}", n + 1
        self.prompt_audio[key] = audio
        self.prompts.append({"label": key, "t": round(self._buffer_t if self._buffer_t is not None else self._elapsed(), 3),
                             "seconds": round(len(audio) / 8000, 2), "cleared": cleared})
        self._buffer, self._buffer_t = [], None
