"""Sample-rate conversion for int16 PCM (libsoxr, high quality, e.g. 8 kHz <-> 16 kHz)."""
from __future__ import annotations

import numpy as np
import soxr


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Return ``pcm`` (int16) resampled from ``from_rate`` to ``to_rate`` Hz, as int16."""
    if from_rate == to_rate or len(pcm) == 0:
        return np.asarray(pcm, dtype=np.int16)
    return soxr.resample(np.ascontiguousarray(pcm, dtype=np.int16), from_rate, to_rate, quality="HQ")


class StreamResampler:
    """Resamples a stream chunk by chunk (int16 in, int16 out) with the filter's state carried
    over, so chunk boundaries leave no clicks (a browser's microphone in 4096-sample blocks)."""

    def __init__(self, from_rate: int, to_rate: int):
        self._stream = None if from_rate == to_rate else soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16",
                                                                              quality="HQ")

    def feed(self, pcm: np.ndarray) -> np.ndarray:
        pcm = np.ascontiguousarray(pcm, dtype=np.int16)
        return pcm if self._stream is None else self._stream.resample_chunk(pcm)


def to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM to float32 in [-1, 1)."""
    return np.asarray(pcm, dtype=np.float32) / 32768.0


def to_int16(samples: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] to int16 PCM (clipped)."""
    return np.clip(np.round(np.asarray(samples) * 32768.0), -32768, 32767).astype(np.int16)
