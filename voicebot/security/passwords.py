"""Password hashing (argon2id via argon2-cffi) and a login throttle for the admin console.

``PasswordHasher`` promises: ``hash`` never returns the password or anything it can be read
back from; ``verify`` answers True/False and never raises for a wrong password or a damaged
hash; ``needs_rehash`` is True when a stored hash was made with weaker parameters than the
current ones (rehash it at the next successful login).

``LoginThrottle`` limits attempts per key (a user name, a client address) in a sliding window
and locks a key out for a while after N failures. Its clock is injectable, so tests move time
by hand. It remembers at most ``max_keys`` keys (the least recently used unlocked key is forgotten
first), so a client spraying user names can neither grow it without bound nor flush a lockout.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable, Hashable

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from voicebot.errors import LoginThrottledError


class PasswordHasher:
    """argon2id with RFC 9106's low-memory profile by default (64 MiB, 3 passes, 4 lanes)."""

    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4):
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib,
                                             parallelism=parallelism, type=argon2.Type.ID)

    def hash(self, password: str) -> str:
        """A self-describing argon2id hash (``$argon2id$v=19$m=...``) with a fresh random salt."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when ``password`` matches ``stored_hash``; False for a mismatch or a damaged hash."""
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters than this hasher's (or is unreadable)."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True


@dataclass
class _KeyState:
    attempts: deque = field(default_factory=deque)  # times of recent attempts
    failures: deque = field(default_factory=deque)  # times of recent failures
    locked_until: float = 0.0


class LoginThrottle:
    """Rate limit (``max_attempts`` per ``window_s``) and lockout (``max_failures`` failures within
    ``lockout_s`` lock the key for ``lockout_s``) per key. Thread-safe.

    Use: ``throttle.check(user, address)`` before verifying (raises ``LoginThrottledError``),
    then ``record_failure(user, address)`` or ``record_success(user, address)``.
    """

    def __init__(self, max_failures: int = 5, lockout_s: float = 900.0, max_attempts: int = 10,
                 window_s: float = 60.0, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000):
        if min(max_failures, max_attempts, max_keys) < 1 or min(lockout_s, window_s) <= 0:
            raise ValueError("throttle limits must be positive")
        self.max_failures, self.lockout_s = max_failures, lockout_s
        self.max_attempts, self.window_s = max_attempts, window_s
        self._clock, self._max_keys = clock, max_keys
        self._keys: OrderedDict[Hashable, _KeyState] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, *keys: Hashable) -> None:
        """Count one attempt for every key; raise ``LoginThrottledError`` if any key is locked or
        over its rate (a refused attempt is not counted, so waiting always helps)."""
        with self._lock:
            now = self._clock()
            wait = max((self._wait(self._state(k), now) for k in keys), default=0.0)
            if wait > 0:
                raise LoginThrottledError(f"too many login attempts: try again in {wait:.0f} s", wait)
            for key in keys:
                self._state(key).attempts.append(now)

    def record_failure(self, *keys: Hashable) -> None:
        """A wrong password for these keys; the ``max_failures``-th within ``lockout_s`` locks them."""
        with self._lock:
            now = self._clock()
            for key in keys:
                state = self._state(key)
                _drop_before(state.failures, now - self.lockout_s)
                state.failures.append(now)
                if len(state.failures) >= self.max_failures:
                    state.locked_until = now + self.lockout_s
                    state.failures.clear()

    def record_success(self, *keys: Hashable) -> None:
        """A correct password: these keys' failure counts start again from zero."""
        with self._lock:
            for key in keys:
                self._state(key).failures.clear()

    def retry_after(self, key: Hashable) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        with self._lock:
            return self._wait(self._state(key), self._clock())

    def _wait(self, state: _KeyState, now: float) -> float:
        _drop_before(state.attempts, now - self.window_s)
        locked = max(0.0, state.locked_until - now)
        rated = (state.attempts[0] + self.window_s - now) if len(state.attempts) >= self.max_attempts else 0.0
        return max(locked, rated)

    def _state(self, key: Hashable) -> _KeyState:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState()
            if len(self._keys) > self._max_keys:
                self._forget_one(self._clock())
        else:
            self._keys.move_to_end(key)
        return state


    def _forget_one(self, now: float) -> None:
        """Forget the least recently used key that is not locked (the oldest if all are)."""
        victim = next((k for k, s in self._keys.items() if s.locked_until <= now), next(iter(self._keys)))
        del self._keys[victim]


def _drop_before(times: deque, cutoff: float) -> None:
    while times and times[0] <= cutoff:
        times.popleft()
