"""The two directions between a call's channel side and its turn worker.

``VoiceCallSession`` (the channel's thread: frames, keys, marks, timers) puts **jobs** on the
worker's queue, in order; they are small frozen messages, one class per kind of work. The
``TurnWorker`` (one thread per call: recognition, understanding, the flow, speech out) answers
through the narrow ``CallControl`` protocol, never through the whole session object.

A caller's frame travels: ``MediaStreamHandler._audio`` -> ``VoiceCallSession.on_audio`` ->
``UtteranceCapture.feed`` (endpointing) -> ``OpenRecognition`` / ``FeedAudio`` /
``EarlyDecode`` / ``FinishUtterance`` jobs -> ``TurnWorker`` -> ``CallRecognizer`` -> the ASR.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voicebot.actions import HangUp, Listen, Lookup, Say, Transfer
from voicebot.audio.endpointing import SpeechEnded


# -- jobs: channel side -> worker -------------------------------------------------------------------

@dataclass(frozen=True)
class StartCall:
    """The media path is open: start the conversation (``params``: the channel's call parameters)."""

    caller: str
    params: dict


@dataclass(frozen=True)
class StepFlow:
    """Give ``event`` (CallStarted, DtmfPressed, NoInput, PlaybackInterrupted, a lookup's
    outcome) to the flow and carry out its actions."""

    event: Any


@dataclass(frozen=True, eq=False)
class OpenRecognition:
    """The caller started speaking while ``listen`` was open: open a recognition stream."""

    listen: Listen | None


@dataclass(frozen=True, eq=False)
class FeedAudio:
    """Caller audio of the utterance being captured (8 kHz int16)."""

    pcm: np.ndarray


@dataclass(frozen=True, eq=False)
class EarlyDecode:
    """The caller paused: decode ``pcm`` (the utterance so far, last speech at ``last_voiced_s``
    on the stream clock) ahead of the end-of-turn decision; ``thorough`` runs the slow decode."""

    pcm: np.ndarray
    last_voiced_s: float
    listen: Listen | None
    thorough: bool = False


@dataclass(frozen=True)
class DropRecognition:
    """The utterance was abandoned (a key answered the prompt): forget the stream."""


@dataclass(frozen=True, eq=False)
class FinishUtterance:
    """The utterance ended: ``endpoint_s`` is how long endpointing waited after the last speech,
    ``ended_at`` the ``time.perf_counter()`` of the decision, ``early`` when a complete early
    decode ended it before the full silence."""

    ended: SpeechEnded
    endpoint_s: float
    ended_at: float
    early: bool = False


@dataclass(frozen=True)
class SayFiller:
    """A lookup is slow: say its filler now."""

    say: Say


@dataclass(frozen=True)
class EndCall:
    """The last prompt was heard: hang up or transfer now."""

    action: HangUp | Transfer


@dataclass(frozen=True)
class StopCall:
    """The media path closed (``reason``): tell the flow, record the outcome, end the worker."""

    reason: str


Job = StartCall | StepFlow | OpenRecognition | FeedAudio | EarlyDecode | DropRecognition | FinishUtterance | SayFiller | EndCall | StopCall


# -- control: worker -> channel side ----------------------------------------------------------------

class CallControl(Protocol):
    """What the turn worker may ask of the call's channel side (all thread-safe)."""

    def queue_prompt(self, prompt: Any, chunks: list[np.ndarray]) -> None:
        """Send a rendered prompt (``playback.QueuedPrompt`` and its audio chunks) to the caller."""

    def begin_listen(self, listen: Listen) -> None:
        """Start waiting for the caller's answer (speech or keys) as ``listen`` says."""

    def begin_lookup(self, lookup: Lookup) -> None:
        """Run ``lookup`` in the background; its outcome comes back as a ``StepFlow`` job."""

    def end_after_playback(self, action: HangUp | Transfer) -> None:
        """Stop listening; ``action`` comes back as an ``EndCall`` job once the caller heard the rest."""

    def spoke_after(self, last_voiced_s: float) -> bool:
        """True when the caller spoke again after ``last_voiced_s`` (an early decode is stale)."""

    def end_turn_early(self, last_voiced_s: float) -> bool:
        """End the utterance now (its early decode is a complete answer); False when too late."""
