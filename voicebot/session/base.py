"""The contract between a channel (Twilio Media Streams, a local sound device, a test) and the
per-call session that runs the conversation.

Data flows one way: the channel pushes caller input into a ``CallSession`` (``on_audio``,
``on_dtmf``, ``on_mark``, ``on_stop``); the session pushes output back through the ``CallIO``
the channel gave it (``play``, ``clear``, ``transfer``, ``hangup``). Neither side knows the
other's internals: swapping Twilio for another carrier means writing another ``CallIO``.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from voicebot.handoff.context import Handoff

FRAME_MS = 20
SAMPLE_RATE = 8000
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160 samples = 160 mu-law bytes


class CallIO(Protocol):
    """Output side of a call, implemented by the channel. Methods must not block for long."""

    def play(self, pcm: np.ndarray, label: str) -> None:
        """Queue 8 kHz int16 audio to the caller, then a mark named ``label``.

        The channel calls ``CallSession.on_mark(label)`` when the caller has heard it all.
        """

    def clear(self) -> None:
        """Stop playback at once and drop queued audio (barge-in)."""

    def transfer(self, handoff: Handoff) -> None:
        """Hand the live call to a human (Twilio: REST call update with <Dial>); the handoff's
        context record is already stored (``handoff.record_id``)."""

    def hangup(self, reason: str) -> None:
        """End the call."""


class CallSession(Protocol):
    """Input side of a call, implemented by ``voicebot.session.call``. Thread-safe."""

    def start(self, caller: str, params: dict) -> None:
        """The media path is open: greet the caller."""

    def on_audio(self, pcm: np.ndarray) -> None:
        """One 20 ms frame of caller audio, 8 kHz int16 (160 samples)."""

    def on_dtmf(self, digit: str) -> None:
        """The caller pressed a key (0-9, *, #)."""

    def on_mark(self, label: str) -> None:
        """Playback reached the mark ``label`` (Twilio echoed it)."""

    def on_stop(self, reason: str = "hangup") -> None:
        """The media path closed; release everything, keep what was said."""
