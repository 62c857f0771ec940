"""``EchoSession``: a tiny ``CallSession`` test double for protocol tests of a channel.

It is not a conversation: it plays a tone prompt on start, a ``reply_s`` tone after each caller
utterance (energy above a threshold, then ``reply_after_s`` of quiet), and a tone on each keypress
(clearing the one playing first, like a barge-in). Key ``0`` transfers to ``transfer_to``,
key ``9`` hangs up. It records everything it was given, so tests can check what the channel
delivered (``replies``: at which inbound frame each utterance ended and was answered).
"""
from __future__ import annotations

import threading

import numpy as np

from voicebot.handoff.context import Handoff
from voicebot.storage import calls

SAMPLE_RATE = 8000


def tone(freq_hz: float = 440.0, seconds: float = 0.5, amplitude: int = 8000) -> np.ndarray:
    """A sine tone as 8 kHz int16 PCM."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)


class EchoSession:
    """Plays tones at the right moments; records frames, digits, marks and the stop reason."""

    def __init__(self, call_sid: str, io, state=None, *, transfer_to: str = "+15550100000",
                 greeting_s: float = 0.6, reply_after_s: float = 0.3, reply_s: float = 0.4, speech_rms: float = 500.0):
        self.call_sid = call_sid
        self.io = io
        self.db = getattr(state, "db", None)
        self.transfer_to = transfer_to
        self.greeting_s = greeting_s
        self.reply_after_frames = max(1, int(round(reply_after_s / 0.02)))
        self.reply_s = reply_s
        self.speech_rms = speech_rms
        self.frames = 0
        self.audio_in: list[np.ndarray] = []  # every frame delivered, in order
        self.speech_frames = 0
        self.digits: list[str] = []
        self.marks: list[str] = []
        self.prompts: list[str] = []
        self.stopped: str | None = None
        self.started_with: dict | None = None
        self.replies: list[tuple[int, int]] = []  # (last loud frame, frame that triggered the reply), 1-based
        self._quiet_frames = 0
        self._in_speech = False
        self._lock = threading.Lock()

    def start(self, caller: str, params: dict) -> None:
        self.started_with = {"caller": caller, **params}
        self._say("greeting", tone(440, self.greeting_s))

    def on_audio(self, pcm: np.ndarray) -> None:
        rms = float(np.sqrt(np.mean(np.asarray(pcm, dtype=np.float64) ** 2))) if len(pcm) else 0.0
        with self._lock:
            self.frames += 1
            self.audio_in.append(np.array(pcm, dtype=np.int16))
            if rms >= self.speech_rms:
                self.speech_frames += 1
                self._in_speech, self._quiet_frames = True, 0
                return
            if not self._in_speech:
                return
            self._quiet_frames += 1
            if self._quiet_frames < self.reply_after_frames:
                return
            self._in_speech = False
            self.replies.append((self.frames - self._quiet_frames, self.frames))
            n = len(self.replies)
        self._say(f"reply-{n}", tone(660, self.reply_s))

    def on_dtmf(self, digit: str) -> None:
        self.digits.append(digit)
        self.io.clear()
        if digit == "0":
            self._say("transfer", tone(550, 0.3))
            reason, context = "caller pressed 0", {"intent": "agent", "digits": "".join(self.digits)}
            record_id = calls.save_transfer(self.db, self.call_sid, self.transfer_to, reason, context) if self.db else None
            self.io.transfer(Handoff(self.transfer_to, reason, context, record_id))
        elif digit == "9":
            self._say("goodbye", tone(330, 0.3))
            self.io.hangup("caller pressed 9")
        else:
            self._say(f"key-{digit}-{len(self.digits)}", tone(880, 0.3))

    def on_mark(self, label: str) -> None:
        self.marks.append(label)

    def on_stop(self, reason: str = "hangup") -> None:
        self.stopped = reason

    def _say(self, label: str, pcm: np.ndarray) -> None:
        self.prompts.append(label)
        self.io.play(pcm, label)
