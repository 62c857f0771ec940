"""``SessionSettings``: per-deployment tuning of a voice call (endpointing, barge-in, early decodes)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionSettings:
    """Per-deployment tuning of a call. Reaction time to barge-in is about ``barge_in_min_speech_s``."""

    barge_in_min_speech_s: float = 0.2  # speech shorter than this ("mhm", a cough) does not interrupt
    min_speech_s: float = 0.2  # the endpointer's minimum speech to start an utterance
    end_silence_s: float | None = None  # None: each Listen's own end_silence_s
    vad_engine: str = "gated"  # endpointing: Silero's ends of turns, Silero asleep while WebRTC hears nothing
    barge_in_vad_engine: str = "webrtc"  # barge-in: fast onsets (meets the 300 ms target)
    calm_frustration: float = 0.6  # at or above: replies are spoken calm and slower
    holding_phrase: str = "One moment, please."  # said when every recogniser is busy (then the answer follows)
    max_end_wait_s: float = 20.0  # HangUp/Transfer wait at most this long for the last prompt
    tick_s: float = 0.05
    # Pause after which a buffered recogniser (Whisper) decodes the utterance so far, ahead of
    # the end-of-speech decision; None: never. Costs a wasted decode when the caller goes on.
    # When that decode is a complete answer for the Listen (``complete_when``), the turn ends
    # at once (voicebot.session.completeness).
    speculate_after_s: float | None = 0.15
    # Early decodes are quick (Whisper's short window) and kept only when final; if the caller
    # is still silent this long, the thorough decode (full window) runs too, so an answer that
    # is not complete (an off-menu question) is ready soon after the end-of-turn silence.
    thorough_after_s: float | None = 0.3
