"""Keypad digit collection: expected length, terminator key and inter-digit timeout.

One ``DtmfCollector`` per ``Listen``. It only counts and compares times; the session feeds it
keys and the current time and turns a finished string into a ``DtmfPressed`` event.
"""
from __future__ import annotations

from voicebot.actions import Listen

VALID_KEYS = frozenset("0123456789*#")


class DtmfCollector:
    """Collects keys until ``max_digits`` are in, the terminator is pressed, or the caller
    pauses longer than ``interdigit_timeout_s`` after at least one key.

    ``press`` and ``poll`` return the collected digits (terminator excluded) once, when
    collection completes; otherwise None. A terminator pressed before any digit is itself the
    answer for one-key menus (``max_digits == 1``) and ignored for longer entries.
    """

    def __init__(self, max_digits: int = 1, terminator: str = "#", interdigit_timeout_s: float = 3.0):
        self.max_digits = max(1, int(max_digits))
        self.terminator = terminator or ""
        self.interdigit_timeout_s = interdigit_timeout_s
        self._digits = ""
        self._last_key_at: float | None = None

    @classmethod
    def for_listen(cls, listen: Listen) -> "DtmfCollector":
        return cls(listen.max_digits, listen.terminator, listen.interdigit_timeout_s)

    @property
    def collecting(self) -> bool:
        """True once a key was pressed and the entry is not complete yet."""
        return self._last_key_at is not None

    def press(self, key: str, now: float) -> str | None:
        """Add one key pressed at ``now``; return the finished entry or None. Unknown keys are ignored."""
        if key not in VALID_KEYS:
            return None
        if self.terminator and key == self.terminator:
            if self._digits:
                return self._complete()
            return key if self.max_digits == 1 else None  # a lone "#" answers a one-key menu
        self._digits += key
        self._last_key_at = now
        if len(self._digits) >= self.max_digits:
            return self._complete()
        return None

    def poll(self, now: float) -> str | None:
        """Return the partial entry if the caller paused longer than the inter-digit timeout."""
        if self._last_key_at is not None and now - self._last_key_at >= self.interdigit_timeout_s:
            return self._complete()
        return None

    def _complete(self) -> str:
        digits = self._digits
        self._reset()
        return digits

    def _reset(self) -> None:
        self._digits = ""
        self._last_key_at = None
