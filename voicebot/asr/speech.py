"""Where the speech is in an utterance: the span a buffered recogniser should decode.

Whisper and Moonshine invent text for silence and drift on long silences around speech, so
both decode only the audio from shortly before the first to shortly after the last speech
frame (Silero VAD), and nothing at all when there is too little speech.
"""
from __future__ import annotations

import numpy as np

from voicebot.audio.vad import VoiceActivityDetector

SPAN_MARGIN_S = 0.25  # audio kept before the first and after the last speech frame
# Silero's speech probability for a frame must reach this. 0.3 lost 5 of 150 tightly cut FSDD
# digits (choose split, jackson takes 5-19: Silero scores a clip's first frames low); 0.1 lost
# none and still finds no speech in white noise (docs/asr.md).
GATE_THRESHOLD = 0.1
_FRAME = 320  # 20 ms at 16 kHz


def speech_span(pcm16k: np.ndarray, min_speech_s: float = 0.1, margin_s: float = SPAN_MARGIN_S) -> tuple[np.ndarray, float] | None:
    """The 16 kHz audio around the speech and its offset in seconds, or None when there is
    less than ``min_speech_s`` of speech. The VAD is lenient (``GATE_THRESHOLD``): short spoken
    digits score low."""
    vad = VoiceActivityDetector(16000, "silero", threshold=GATE_THRESHOLD)
    flags = [vad.is_speech(pcm16k[i:i + _FRAME]) for i in range(0, len(pcm16k) - _FRAME + 1, _FRAME)]
    if sum(flags) * 0.02 < min_speech_s:
        return None
    speech = np.flatnonzero(flags)
    margin = int(margin_s * 16000)
    first = max(0, speech[0] * _FRAME - margin)
    return pcm16k[first: (speech[-1] + 1) * _FRAME + margin], first / 16000
