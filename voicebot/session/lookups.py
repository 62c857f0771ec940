"""Running a flow's ``Lookup``: one thread pool for all calls, one time limit (the lookup's own
``timeout_s``), one translation of outcomes into ``LookupCompleted`` / ``LookupFailed``.

A live call starts a lookup and polls it on every tick (``LookupRunner``): ``poll`` reports, at
most once each, that the filler is due (the lookup is slower than ``filler_after_s``) and how it
ended. Text channels and conversation tests wait for the outcome (``run_lookup``). A timed-out
worker is abandoned (its result ignored; Python cannot kill a thread), so data sources should
honour their own timeout (HTTP sources do) and the thread ends soon after.
"""
from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Callable

from voicebot.actions import Lookup, Say
from voicebot.events import LookupCompleted, LookupFailed

LOOKUP_THREADS = 8  # shared by all calls: each lookup is I/O bound and time-limited


def lookup_pool() -> ThreadPoolExecutor:
    """The pool lookups of a process run on (one per pipeline)."""
    return ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="voicebot-lookup")


@dataclass(frozen=True)
class FillerDue:
    """The lookup is slow: say ``say`` (its filler) now."""

    say: Say


def start(executor: Executor, sources, lookup: Lookup) -> Future:
    """Submit ``lookup`` to ``executor``: ``sources.call(source, params)`` on a pool thread."""
    return executor.submit(sources.call, lookup.source, dict(lookup.params))


def outcome(lookup: Lookup, future: Future) -> LookupCompleted | LookupFailed:
    """The event a finished lookup gives the flow."""
    error = future.exception()
    if error is None:
        return LookupCompleted(lookup.lookup_id, dict(future.result() or {}))
    return LookupFailed(lookup.lookup_id, f"{type(error).__name__}: {error}")


def timed_out(lookup: Lookup, future: Future) -> LookupFailed:
    future.cancel()
    return LookupFailed(lookup.lookup_id, f"timed out after {lookup.timeout_s:g} s")


def run_lookup(executor: Executor, sources, lookup: Lookup) -> LookupCompleted | LookupFailed:
    """Run ``lookup`` to its end (or its ``timeout_s``) and return the event for the flow."""
    future = start(executor, sources, lookup)
    try:
        future.result(timeout=lookup.timeout_s)
    except FutureTimeout:
        return timed_out(lookup, future)
    except Exception:  # reported by outcome()
        pass
    return outcome(lookup, future)


@dataclass
class _Running:
    lookup: Lookup
    future: Future
    started_at: float
    filler_said: bool = False


class LookupRunner:
    """One call's lookups, timed on the call's clock. ``wake`` is called from the pool thread
    when a result arrives (the session ticks and polls). Not thread-safe: used under the session's lock."""

    def __init__(self, executor: Executor, sources, wake: Callable[[], Any] = lambda: None):
        self._executor = executor
        self._sources = sources
        self._wake = wake
        self._running: dict[str, _Running] = {}

    def start(self, lookup: Lookup, now: float) -> None:
        future = start(self._executor, self._sources, lookup)
        future.add_done_callback(lambda _f: self._wake())
        self._running[lookup.lookup_id] = _Running(lookup, future, now)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    @property
    def running(self) -> tuple[str, ...]:
        """Ids of the lookups started and not yet reported by ``poll``."""
        return tuple(self._running)

    def poll(self, now: float) -> list[FillerDue | LookupCompleted | LookupFailed]:
        """What happened since the last poll, in order: fillers due, then finished lookups."""
        out: list = []
        for lookup_id, running in list(self._running.items()):
            future, lookup = running.future, running.lookup
            elapsed = now - running.started_at
            if future.done():
                del self._running[lookup_id]
                out.append(outcome(lookup, future))
            elif elapsed >= lookup.timeout_s:
                del self._running[lookup_id]
                out.append(timed_out(lookup, future))
            elif not running.filler_said and lookup.filler and elapsed >= lookup.filler_after_s:
                running.filler_said = True
                out.append(FillerDue(Say(lookup.filler)))
        return out

    def cancel_all(self) -> None:
        """Forget running lookups (call teardown); queued ones are cancelled."""
        for running in self._running.values():
            running.future.cancel()
        self._running.clear()
