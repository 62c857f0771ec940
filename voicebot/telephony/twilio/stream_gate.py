"""``StreamGate``: how many Media Stream sockets may wait for their ``start`` message at once.

Every socket holds a server thread until it closes, and until its ``start`` carries a valid
one-time token nobody knows it is Twilio. Twilio sends ``start`` within milliseconds of
connecting; a socket that does not is probably not Twilio. So at most ``limit`` sockets may be
waiting at any time, and a newcomer evicts the one that has waited longest (its handler sees
``ticket.evicted`` and closes it) instead of being turned away: someone holding many idle
sockets can never keep a real call's socket out, and never holds more than ``limit`` threads.
Together with the start deadline of ``media_stream`` this bounds what unauthenticated sockets
can take from real calls. Thread-safe.
"""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict

from voicebot import observability as metrics


class Ticket:
    """One waiting socket's place in the gate; ``evicted`` turns True when a newcomer took it."""

    __slots__ = ("number", "evicted")

    def __init__(self, number: int):
        self.number, self.evicted = number, False


class StreamGate:
    """At most ``limit`` sockets waiting for ``start``; the oldest makes room for a newcomer."""

    def __init__(self, limit: int = 8):
        if limit < 1:
            raise ValueError("the gate needs room for at least one waiting socket")
        self.limit = limit
        self._waiting: OrderedDict[int, Ticket] = OrderedDict()
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def admit(self) -> Ticket:
        """A place for a new socket, evicting the longest-waiting one when the gate is full."""
        with self._lock:
            while len(self._waiting) >= self.limit:
                _, oldest = self._waiting.popitem(last=False)
                oldest.evicted = True
                metrics.ERRORS.labels(where="stream_evicted").inc()
            ticket = Ticket(next(self._numbers))
            self._waiting[ticket.number] = ticket
            return ticket

    def release(self, ticket: Ticket) -> None:
        """The socket started (authenticated) or closed: it waits no more. Releasing twice is harmless."""
        with self._lock:
            self._waiting.pop(ticket.number, None)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)
