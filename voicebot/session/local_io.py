"""``LocalCallIO``: a call on the developer's own microphone and speaker (``voicebot talk``).

The bot's prompts play on a player thread, chunk by chunk, each chunk's mark reported to the
session once the device has taken it; ``clear`` (barge-in) cuts the current chunk within 20 ms
and drops the rest. Transfers and hang-ups cannot reach a phone network here: they are printed
through ``on_event`` and end the conversation.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable

import numpy as np

from voicebot.handoff.context import Handoff
from voicebot.audio.devices import LocalAudio

_STOP = object()


class LocalCallIO:
    """``CallIO`` over ``voicebot.audio.devices.LocalAudio``. ``close()`` stops the player thread."""

    def __init__(self, audio: LocalAudio, on_event: Callable[[str, str], None] = lambda kind, text: None):
        self.audio = audio
        self.on_event = on_event
        self.on_mark: Callable[[str], None] | None = None  # usually ``session.on_mark``
        self.ended = threading.Event()  # set on transfer / hang-up
        self.error: Exception | None = None  # a device failure on the player thread
        self._queue: queue.Queue = queue.Queue()
        self._generation = 0  # bumped by clear(): chunks queued before it are dropped
        self._lock = threading.Lock()
        self._player = threading.Thread(target=self._play_loop, name="voicebot-local-player", daemon=True)
        self._player.start()

    def play(self, pcm: np.ndarray, label: str) -> None:
        with self._lock:
            self._queue.put((self._generation, np.asarray(pcm, dtype=np.int16), label))

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
        self.audio.interrupt()

    def transfer(self, handoff: Handoff) -> None:
        summary = handoff.context.get("summary") or handoff.context.get("transcript_summary") or ""
        self.on_event("transfer", f"transferring to {handoff.destination} ({handoff.reason}); context record {handoff.record_id or '-'}: {summary}")
        self.ended.set()

    def hangup(self, reason: str) -> None:
        self.on_event("hangup", f"the bot hung up ({reason})")
        self.ended.set()

    def close(self) -> None:
        self.clear()
        self._queue.put(_STOP)
        if threading.current_thread() is not self._player:
            self._player.join(timeout=5)

    def _play_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            generation, pcm, label = item
            with self._lock:
                if generation != self._generation:
                    continue  # cleared before it started
            try:
                completed = self.audio.play(pcm)
            except Exception as exc:  # a device error ends the conversation; talk reports it
                self.error = exc
                self.ended.set()
                return
            with self._lock:
                current = generation == self._generation
            if completed and current and self.on_mark is not None:
                self.on_mark(label)
