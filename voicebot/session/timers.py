"""Deadlines on an injected clock, and a ticker thread for when frames stop arriving.

Time in a session comes from its clock (``time.monotonic`` in production, a frame-driven clock
in tests), never from ``time.time()`` sprinkled in the code. Timers fire when the session ticks:
on every incoming 20 ms frame, and from ``Ticker`` when the channel goes quiet.
"""
from __future__ import annotations

import threading
from typing import Callable


class Timers:
    """Named one-shot deadlines. Not thread-safe: the session uses it under its lock."""

    def __init__(self) -> None:
        self._deadlines: dict[str, float] = {}

    def start(self, name: str, at: float) -> None:
        """Fire ``name`` at time ``at`` (restarts it if already set)."""
        self._deadlines[name] = at

    def cancel(self, *names: str) -> None:
        for name in names:
            self._deadlines.pop(name, None)

    def clear(self) -> None:
        self._deadlines.clear()

    def active(self, name: str) -> bool:
        return name in self._deadlines

    def pop_due(self, now: float) -> list[str]:
        """Names whose deadline passed, earliest first; they are removed."""
        due = sorted((at, name) for name, at in self._deadlines.items() if at <= now)
        for _, name in due:
            del self._deadlines[name]
        return [name for _, name in due]


class Ticker:
    """Calls ``tick()`` every ``interval_s`` on a daemon thread until ``stop()``."""

    def __init__(self, tick: Callable[[], None], interval_s: float = 0.05, name: str = "voicebot-ticker"):
        self._tick = tick
        self._interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self._tick()

    @property
    def thread(self) -> threading.Thread:
        """The ticker's thread (to check it ended)."""
        return self._thread

    def stop(self) -> None:
        """Stop and wait for the thread (safe from the tick callback itself)."""
        self._stopped.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)


class FrameClock:
    """A clock for tests and offline runs: advances only when told (e.g. 20 ms per frame fed)."""

    def __init__(self, start: float = 0.0):
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now
