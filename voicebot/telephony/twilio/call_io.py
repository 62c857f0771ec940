"""``TwilioCallIO``: the output side of a call over a Twilio Media Stream (``CallIO``).

A sender thread per call sends the queued bot audio as 20 ms mu-law ``media`` messages paced
in real time (at most ``lead_s`` ahead of the caller's ear, so ``clear`` cuts playback
quickly), then a ``mark`` per prompt. ``clear`` drops queued audio and sends Twilio's ``clear``
at once. Transfer and hang-up run after the audio queued before them has been sent (so the
caller hears "connecting you now"), through ``TwilioRest``. ``close`` stops the thread.
Pacing runs on ``clock`` (injectable: a test can step a virtual clock and watch the frames go).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from voicebot.audio.codecs import ulaw_encode
from voicebot.errors import VoicebotError
from voicebot.handoff.context import Handoff
from voicebot.session.base import FRAME_SAMPLES
from voicebot.telephony.twilio.serializer import TwilioSerializer
from voicebot import observability as metrics

log = logging.getLogger(__name__)
FRAME_S = 0.02


class TwilioCallIO:
    """Bot audio, marks, clear, transfer and hang-up for one Twilio call.

    ``send`` is the WebSocket's send function (thread-safe: every send goes through a lock).
    ``prompt_first_frame_at[label]`` is the ``clock`` time the first frame of each prompt was
    sent; ``on_first_frame(label, t)`` is called then (latency measurement). ``waiting_until``
    is the clock time the sender is waiting for before its next frame (None when it is not).
    """

    def __init__(self, call_sid: str, send: Callable[[str], None], serializer: TwilioSerializer, rest=None,
                 *, lead_s: float = 0.08, on_first_frame: Callable[[str, float], None] | None = None,
                 on_ended: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.call_sid = call_sid
        self._send_raw = send
        self._serializer = serializer
        self._rest = rest
        self._lead_s = lead_s
        self._clock = clock
        self._on_first_frame = on_first_frame
        self._on_ended = on_ended  # called after a successful REST transfer/hangup
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._queue: deque = deque()  # ("audio", label, ulaw bytes) | ("action", name, fn)
        self._generation = 0  # bumped by clear(): the prompt being sent stops
        self._closed = False
        self.prompt_first_frame_at: dict[str, float] = {}
        self.prompt_frames_sent: dict[str, int] = {}
        self.marks_sent: list[str] = []
        self.clears_sent = 0
        self.transfer_ids: list[int] = []
        self.waiting_until: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"twilio-sender-{call_sid[-8:]}", daemon=True)
        self._thread.start()

    # CallIO --------------------------------------------------------------------------------
    def play(self, pcm: np.ndarray, label: str) -> None:
        data = ulaw_encode(np.asarray(pcm, dtype=np.int16))
        with self._cond:
            self._queue.append(("audio", label, data))
            self._cond.notify()

    def clear(self) -> None:
        # under the send lock: no frame of the cleared prompt can follow the clear message
        with self._send_lock:
            with self._cond:
                self._queue = deque(item for item in self._queue if item[0] == "action")
                self._generation += 1
                self._cond.notify()
            self._send_raw(self._serializer.clear())
        self.clears_sent += 1

    def transfer(self, handoff: Handoff) -> None:
        def run():
            self._need_rest().transfer(self.call_sid, handoff)
            self.transfer_ids.append(handoff.record_id)

        self._enqueue_action("transfer", run)

    def hangup(self, reason: str) -> None:
        self._enqueue_action("hangup", lambda: self._need_rest().hangup(self.call_sid))

    # channel side ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop sending and join the sender thread. Idempotent."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def idle(self) -> bool:
        """True when nothing is queued to send."""
        with self._cond:
            return not self._queue

    def _need_rest(self):
        if self._rest is None:
            raise VoicebotError("no Twilio REST client configured for transfers and hang-ups")
        return self._rest

    def _enqueue_action(self, name: str, fn: Callable[[], None]) -> None:
        with self._cond:
            self._queue.append(("action", name, fn))
            self._cond.notify()

    # sender thread -----------------------------------------------------------------------
    def _run(self) -> None:
        next_at = 0.0
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                item = self._queue.popleft()
                generation = self._generation
            try:
                if item[0] == "audio":
                    next_at = self._send_prompt(item[1], item[2], generation, max(next_at, self._clock()))
                else:
                    self._run_action(item[1], item[2])
            except Exception as exc:  # socket gone: the reader side ends the call
                log.info("call %s: sender stopped: %s", self.call_sid, exc)
                return

    def _send_prompt(self, label: str, data: bytes, generation: int, next_at: float) -> float:
        """Send ``data`` frame by frame, paced; then its mark unless cleared. Returns the pacing clock."""
        frame_bytes = FRAME_SAMPLES
        sent = 0
        for offset in range(0, len(data), frame_bytes):
            self._wait_until(next_at - self._lead_s, generation)
            frame = data[offset:offset + frame_bytes]
            if len(frame) < frame_bytes:
                frame = frame + b"\xff" * (frame_bytes - len(frame))  # mu-law silence
            message = self._serializer.media(frame)
            with self._send_lock:
                if self._closed or self._generation != generation:
                    self.prompt_frames_sent[label] = sent
                    return self._clock()
                self._send_raw(message)
            if sent == 0:
                now = self._clock()
                self.prompt_first_frame_at[label] = now
                if self._on_first_frame is not None:
                    self._on_first_frame(label, now)
            sent += 1
            next_at += FRAME_S
        self.prompt_frames_sent[label] = sent
        with self._send_lock:
            if self._generation != generation:
                return self._clock()
            self._send_raw(self._serializer.mark(label))
        self.marks_sent.append(label)
        return next_at

    def _wait_until(self, due: float, generation: int) -> None:
        """Wait until ``due`` on the clock; return early on clear/close (the condition wakes it)."""
        with self._cond:
            while not (self._closed or self._generation != generation):
                delay = due - self._clock()
                if delay <= 1e-6:  # due (a microsecond early is no matter; float sums are not exact)
                    break
                self.waiting_until = due
                self._cond.wait(timeout=delay)  # re-reads the clock when it wakes
            self.waiting_until = None

    def _run_action(self, name: str, fn: Callable[[], None]) -> None:
        """Run a transfer/hang-up; either way the bot is done with this stream.

        If the REST call failed, closing the stream still ends the call (nothing follows
        ``<Connect>`` in our TwiML), which beats leaving the caller in silence.
        """
        try:
            fn()
        except VoicebotError as exc:
            metrics.ERRORS.labels(where=f"rest_{name}").inc()
            log.error("call %s: %s failed, ending the stream instead: %s", self.call_sid, name, exc)
        except Exception:
            metrics.ERRORS.labels(where=f"rest_{name}").inc()
            log.exception("call %s: %s failed, ending the stream instead", self.call_sid, name)
        if self._on_ended is not None:
            self._on_ended(name)
