"""Sample-rate conversion for int16 PCM (libsoxr, high quality, e.g. 8 kHz <-> 16 kHz)."""
from __future__ import annotations

import numpy as np
import soxr


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Return ``pcm`` (int16) resampled from ``from_rate`` to ``to_rate`` Hz, as int16."""
    if from_rate == to_rate or len(pcm) == 0:
        return np.asarray(pcm, dtype=np.int16)
    return soxr.resample(np.ascontiguousarray(pcm, dtype=np.int16), from_rate, to_rate, quality="HQ")


def to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM to float32 in [-1, 1)."""
    return np.asarray(pcm, dtype=np.float32) / 32768.0


def to_int16(samples: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] to int16 PCM (clipped)."""
    return np.clip(np.round(np.asarray(samples) * 32768.0), -32768, 32767).astype(np.int16)
