"""The values the simulated Twilio works with: caller turns (``Speech``, ``Keys``) and what a
call produced (``TurnResult``, ``CallResult``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicebot.audio.wavfile import read_wav

FRAME = 160  # 20 ms at 8 kHz


@dataclass(frozen=True)
class Speech:
    """A caller turn: ``pcm`` (8 kHz int16). ``interrupt``: start while the bot is speaking."""

    pcm: np.ndarray
    label: str = "speech"
    interrupt: bool = False

    @classmethod
    def from_wav(cls, path: str | Path, interrupt: bool = False) -> "Speech":
        return cls(read_wav(path).at_rate(8000).pcm, Path(path).name, interrupt)

    def speech_frames(self) -> tuple[int, int]:
        """(first, last) 20 ms frame holding speech: energy above 10% of the loudest frame's."""
        n = len(self.pcm) // FRAME
        if n == 0:
            return 0, -1
        frames = self.pcm[: n * FRAME].astype(np.float64).reshape(n, FRAME)
        rms = np.sqrt((frames ** 2).mean(axis=1))
        loud = np.flatnonzero(rms >= max(100.0, 0.1 * rms.max()))
        return (int(loud[0]), int(loud[-1])) if len(loud) else (0, n - 1)


@dataclass(frozen=True)
class Keys:
    """A caller turn of keypresses. ``interrupt``: press while the bot is speaking (barge-in)."""

    digits: str
    interrupt: bool = False

    @property
    def label(self) -> str:
        return f"dtmf {self.digits}"


Turn = Speech | Keys


@dataclass
class TurnResult:
    kind: str
    label: str
    started_s: float  # call-relative
    last_input_s: float | None = None
    latency_ms: float | None = None  # last input sent -> first bot frame after it
    clear_ms: float | None = None  # interrupting turns: input onset -> clear received
    # the same latency in stream time: caller frames (20 ms each) sent after the last input
    # until the reply's first frame arrived; never fewer than the bot waited for, whatever the load
    reply_after_frames: int | None = None


@dataclass
class CallResult:
    call_sid: str
    turns: list[TurnResult] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)  # {"t": s, "who": ..., "what": ...}
    prompts: list[dict] = field(default_factory=list)  # {"label", "t", "seconds", "cleared"}
    prompt_audio: dict[str, np.ndarray] = field(default_factory=dict)
    marks_echoed: list[dict] = field(default_factory=list)  # {"name", "t"}: when the caller echoed each mark
    bot_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    transfer: dict | None = None  # {"twiml", "destination"} from the REST update
    hung_up_by_bot: bool = False
    ended_by: str = ""
    transcript: list[dict] = field(default_factory=list)  # server's turns, when available
    transfers: list[dict] = field(default_factory=list)  # server's transfer records, when available
