"""``ProcessPoolASR``: a recogniser run in worker processes.

Why processes: CTranslate2 (Whisper) and onnxruntime decodes hold a core each and cannot be
interrupted, so in one process they neither use both cores well nor survive a decode that
hangs. Here each of ``workers`` processes loads the backend once (one CPU thread each);
a decode is sent to a free worker with its audio (the only time audio crosses the process
boundary) and must finish within ``timeout_s``, else that worker is killed, a new one is
started in the background and ``RecognitionTimeoutError`` is raised.

Back-pressure: at most ``max_waiting`` decodes may wait for a free worker, each for at most
``queue_timeout_s``; beyond either ``RecogniserSaturatedError`` is raised at once, so the
session can play a holding phrase instead of leaving the caller in silence. Streams are cheap:
they only buffer audio in the calling process. An ``accept`` test (``finish(accept=...)``)
stays in the calling process; the worker asks it over the pipe.

``nice``: the workers lower their own CPU priority by this much (``os.nice``), so that on a
saturated machine the serving process (audio frames, keys, barge-in) comes first.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import threading
import time
from typing import Callable

import numpy as np

from voicebot import errors
from voicebot.asr import metrics
from voicebot.asr.base import ASR, Grammar, Passes, Recognition, RecognitionStream, RecogniserSaturatedError, RecognitionTimeoutError
from voicebot.asr.buffered import BufferedStream, check_stream
from voicebot.errors import ASRError

START_TIMEOUT_S = 180.0  # loading the models in a fresh process


class ProcessPoolASR(ASR):
    """``backend`` (a ``registry`` name such as "cascade" or "whisper") in worker processes."""

    decodes_at_finish = True

    def __init__(self, backend: str, workers: int = 2, max_waiting: int = 8, timeout_s: float = 8.0, queue_timeout_s: float = 2.0,
                 grammar_kinds: tuple[str, ...] = ("digits", "yesno", "phrases"), nice: int = 0):
        self.name, self.backend, self.nice = backend, backend, nice
        self.grammar_kinds = grammar_kinds
        self.max_waiting, self.timeout_s, self.queue_timeout_s = max_waiting, timeout_s, queue_timeout_s
        self._context = multiprocessing.get_context("spawn")  # never fork a threaded server
        self._idle: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0
        self._closed = False
        self._workers: set[_Worker] = set()
        starting = [self._spawn() for _ in range(workers)]
        try:
            for worker in starting:
                worker.wait_ready()
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise
        atexit.register(self.close)

    def supports_grammar(self, grammar: Grammar | None) -> bool:
        return grammar is None or grammar.kind in self.grammar_kinds

    @property
    def busy(self) -> bool:
        """No worker is idle, or decodes already wait for one."""
        return self._idle.empty() or self._waiting > 0

    def stream(self, sample_rate: int = 8000, grammar: Grammar | None = None, hints: tuple[str, ...] = ()) -> RecognitionStream:
        check_stream(self, sample_rate, grammar)
        hints = tuple(hints)
        return BufferedStream(lambda pcm, accept, passes: self.decode(pcm, sample_rate, grammar, hints, accept, passes))

    def decode(self, pcm: np.ndarray, sample_rate: int, grammar: Grammar | None = None, hints: tuple[str, ...] = (),
               accept: Callable[[str], bool] | None = None, passes: Passes = "auto") -> Recognition:
        """Decode one utterance in a free worker (see the module docstring for the errors)."""
        worker = self._take_worker()
        metrics.WORKERS_BUSY.inc()
        try:
            result = worker.run(("decode", np.asarray(pcm, dtype=np.int16), sample_rate, grammar, hints, accept is not None, passes),
                                accept, self.timeout_s)
        except RecognitionTimeoutError:
            metrics.TIMEOUTS.inc()
            self._replace(worker)
            raise
        except _WorkerDied as exc:
            self._replace(worker)
            raise ASRError(f"the {self.backend} recogniser worker died during a decode ({exc})") from exc
        finally:
            metrics.WORKERS_BUSY.dec()
        self._idle.put(worker)
        metrics.DECODES.labels(result.backend or self.backend).inc()
        metrics.DECODE_SECONDS.labels(result.backend or self.backend).observe(result.decode_s)
        return result

    def _take_worker(self) -> "_Worker":
        with self._lock:
            if self._closed:
                raise ASRError("the recogniser pool is closed")
            if self._waiting >= self.max_waiting and self._idle.empty():
                metrics.REJECTED.inc()
                raise RecogniserSaturatedError(f"recogniser saturated: {self._waiting} decodes already waiting for a worker")
            self._waiting += 1
            metrics.QUEUE_DEPTH.set(self._waiting)
        try:
            return self._idle.get(timeout=self.queue_timeout_s)
        except queue.Empty:
            metrics.REJECTED.inc()
            raise RecogniserSaturatedError(f"recogniser saturated: no worker free within {self.queue_timeout_s:g} s") from None
        finally:
            with self._lock:
                self._waiting -= 1
                metrics.QUEUE_DEPTH.set(self._waiting)

    def _spawn(self) -> "_Worker":
        worker = _Worker(self._context, self.backend, self.nice)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _replace(self, worker: "_Worker") -> None:
        """Kill ``worker``; start its replacement in the background (models take seconds to load)."""
        worker.kill()
        with self._lock:
            self._workers.discard(worker)
            if self._closed:
                return
        metrics.WORKER_RESTARTS.inc()

        def start() -> None:
            fresh = self._spawn()
            try:
                fresh.wait_ready()
            except ASRError:
                fresh.kill()
                return
            self._idle.put(fresh)

        threading.Thread(target=start, name=f"asr-worker-start-{self.backend}", daemon=True).start()

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for tests and operators)."""
        with self._lock:
            return sorted(w.process.pid for w in self._workers)

    def close(self) -> None:
        """Stop every worker (also run at interpreter exit): each is asked to exit by closing its
        pipe (so it releases what it holds), and killed if it has not within a few seconds."""
        with self._lock:
            self._closed, workers = True, list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()


class _WorkerDied(Exception):
    pass


class _Worker:
    """One worker process and the parent's end of its pipe (used by one decode at a time)."""

    def __init__(self, context, backend: str, nice: int = 0):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, backend, nice), name=f"voicebot-asr-{backend}", daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self) -> None:
        if not self.conn.poll(START_TIMEOUT_S):
            raise ASRError(f"a recogniser worker did not start within {START_TIMEOUT_S:g} s")
        try:
            message = self.conn.recv()
        except EOFError:
            raise ASRError(f"a recogniser worker exited while loading (exit code {self.process.exitcode})") from None
        if message[0] == "error":
            raise _error(message[1], message[2])

    def run(self, job: tuple, accept: Callable[[str], bool] | None, timeout_s: float) -> Recognition:
        deadline = time.monotonic() + timeout_s
        try:
            self.conn.send(job)
            while True:
                if not self.conn.poll(max(0.0, deadline - time.monotonic())):
                    raise RecognitionTimeoutError(f"recognition took longer than {timeout_s:g} s; the worker was restarted")
                message = self.conn.recv()
                if message[0] == "accept?":  # the worker asks the caller's answer test
                    self.conn.send(bool(accept(message[1])))
                elif message[0] == "done":
                    return message[1]
                else:
                    raise _error(message[1], message[2])
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            raise _WorkerDied(f"exit code {self.process.exitcode}") from exc

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self, grace_s: float = 3.0) -> None:
        """Close the pipe (the worker's loop ends and it exits cleanly); kill it after ``grace_s``."""
        self.conn.close()
        self.process.join(timeout=grace_s)
        self.kill()


def _error(kind: str, message: str) -> Exception:
    """The parent-side error for one a worker reported (``voicebot.errors`` names keep their class)."""
    cls = getattr(errors, kind, None)
    return cls(message) if isinstance(cls, type) and issubclass(cls, errors.VoicebotError) else ASRError(message)


def serve(conn, backend: str, nice: int = 0) -> None:
    """A worker process: load ``backend`` with one CPU thread, then decode jobs until the pipe closes."""
    from voicebot.asr.registry import create

    if nice:
        os.nice(nice)
    try:
        asr = create(backend, threads=1)
    except errors.VoicebotError as exc:
        conn.send(("error", type(exc).__name__, str(exc)))
        return
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        _, pcm, rate, grammar, hints, has_accept, passes = job
        ask = (lambda text: conn.send(("accept?", text)) or conn.recv()) if has_accept else None
        try:
            stream = asr.stream(rate, grammar, hints)
            stream.accept(pcm)
            conn.send(("done", stream.finish(ask, passes)))
        except errors.VoicebotError as exc:
            conn.send(("error", type(exc).__name__, str(exc)))
        except Exception as exc:  # an engine error the backend did not translate
            conn.send(("error", "ASRError", f"{backend} failed: {exc}"))
