"""Running a flow's ``Lookup`` on a worker thread with a filler prompt and a timeout.

The session starts a lookup and polls it on every tick. ``poll`` reports, at most once each,
that the filler is due (the lookup is slower than ``filler_after_s``) and how it ended: a
``LookupCompleted`` with the result, or a ``LookupFailed`` on error or after ``timeout_s``.
A timed-out worker is abandoned (its result ignored); the data source should honour its own
timeout so the thread ends soon after.
"""
from __future__ import annotations

from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Callable

from voicebot.actions import Lookup
from voicebot.events import LookupCompleted, LookupFailed

RunSource = Callable[[str, dict, float], dict]


@dataclass
class _Running:
    lookup: Lookup
    future: Future
    started_at: float
    filler_said: bool = False


@dataclass(frozen=True)
class FillerDue:
    """The lookup is slow: say ``lookup.filler`` now."""

    lookup: Lookup


class LookupRunner:
    """One call's lookups. ``wake`` is called from the worker thread when a result arrives."""

    def __init__(self, executor: Executor, run_source: RunSource, wake: Callable[[], Any] = lambda: None):
        self._executor = executor
        self._run_source = run_source
        self._wake = wake
        self._running: dict[str, _Running] = {}

    def start(self, lookup: Lookup, now: float) -> None:
        future = self._executor.submit(self._run_source, lookup.source, dict(lookup.params), lookup.timeout_s)
        future.add_done_callback(lambda _f: self._wake())
        self._running[lookup.lookup_id] = _Running(lookup, future, now)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def poll(self, now: float) -> list[FillerDue | LookupCompleted | LookupFailed]:
        """What happened since the last poll, in order: fillers due, then finished lookups."""
        out: list = []
        for lookup_id, running in list(self._running.items()):
            future, lookup = running.future, running.lookup
            elapsed = now - running.started_at
            if future.done():
                del self._running[lookup_id]
                error = future.exception()
                if error is None:
                    result = future.result()
                    out.append(LookupCompleted(lookup_id, dict(result or {})))
                else:
                    out.append(LookupFailed(lookup_id, f"{type(error).__name__}: {error}"))
            elif elapsed >= lookup.timeout_s:
                del self._running[lookup_id]
                future.cancel()
                out.append(LookupFailed(lookup_id, f"timed out after {lookup.timeout_s:g} s"))
            elif not running.filler_said and lookup.filler and elapsed >= lookup.filler_after_s:
                running.filler_said = True
                out.append(FillerDue(lookup))
        return out

    def cancel_all(self) -> None:
        """Forget running lookups (call teardown); queued ones are cancelled."""
        for running in self._running.values():
            running.future.cancel()
        self._running.clear()
