"""When the simulated caller's next 20 ms frame may go out: ``FramePacer``.

A phone line delivers caller audio at 50 frames a second. ``FramePacer.wait()`` holds each
frame until its slot on ``clock`` (waiting with ``sleep``); after a stall it sends the late
frames at once until it is no more than ``max_lag_s`` behind, then paces again.
``wait(paced=False)`` lets a frame go at once (the simulator's ``fast`` mode) and restarts the
schedule from now. ``clock`` and ``sleep`` are injectable, so the schedule can be checked on
virtual time.
"""
from __future__ import annotations

import time
from typing import Callable

FRAME_S = 0.02


class FramePacer:
    """Paces frames on ``clock``; ``sleep(seconds)`` waits (on a virtual clock it advances it)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 *, frame_s: float = FRAME_S, max_lag_s: float = 0.1):
        self.clock, self.sleep = clock, sleep
        self.frame_s, self.max_lag_s = frame_s, max_lag_s
        self.next_at = clock()

    def wait(self, paced: bool = True) -> None:
        """Return when the next frame may be sent (at once when not ``paced``)."""
        if not paced:
            self.next_at = self.clock() + self.frame_s
            return
        delay = self.next_at - self.clock()
        if delay > 0:
            self.sleep(delay)
        self.next_at = max(self.next_at + self.frame_s, self.clock() - self.max_lag_s)
