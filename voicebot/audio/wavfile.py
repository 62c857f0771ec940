"""Reading and writing WAV files (linear PCM and G.711 mu-law) as int16 PCM.

Every failure becomes an ``AudioError`` naming the file and what to do about it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voicebot.audio.resample import resample, to_int16
from voicebot.errors import AudioError

SUPPORTED_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


@dataclass(frozen=True)
class Audio:
    """Mono int16 PCM samples at ``sample_rate`` Hz."""

    pcm: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / float(self.sample_rate)

    def at_rate(self, rate: int) -> "Audio":
        """This audio resampled to ``rate`` Hz (self when already there)."""
        if rate == self.sample_rate:
            return self
        return Audio(resample(self.pcm, self.sample_rate, rate), rate)


def read_wav(path: str | Path, *, allow_stereo: bool = False) -> Audio:
    """Read a mono WAV (16-bit PCM, 8-bit mu-law, or float) as int16 PCM.

    Raises ``AudioError`` for a missing, empty, truncated or non-WAV file, an unsupported
    sample rate, or more than one channel (unless ``allow_stereo``: channels are averaged).
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty; expected a WAV recording")
    try:
        info = sf.info(str(path))
        if info.format not in ("WAV", "WAVEX"):
            raise AudioError(f"{path}: not a WAV file (found {info.format}); convert it with `sox {path} -r 8000 out.wav`")
        if info.subtype in ("FLOAT", "DOUBLE"):
            # libsndfile does not scale float samples read as integers (they would all be 0)
            floats, rate = sf.read(str(path), dtype="float32", always_2d=True)
            data = to_int16(floats)
        else:
            data, rate = sf.read(str(path), dtype="int16", always_2d=True)
    except AudioError:
        raise
    except Exception as exc:  # libsndfile raises a generic error for bad/truncated headers
        raise AudioError(f"{path}: not a readable WAV file ({str(exc).strip().splitlines()[-1]}); expected 16-bit PCM or mu-law mono WAV") from exc
    if rate not in SUPPORTED_RATES:
        raise AudioError(f"{path}: unsupported sample rate {rate} Hz; use one of {', '.join(map(str, SUPPORTED_RATES))} (e.g. `sox {path} -r 16000 out.wav`)")
    if data.shape[1] != 1:
        if not allow_stereo:
            raise AudioError(f"{path}: {data.shape[1]} channels; expected mono (e.g. `sox {path} -c 1 out.wav`)")
        data = data.mean(axis=1, keepdims=True).astype(np.int16)
    if len(data) == 0:
        raise AudioError(f"{path}: contains no audio samples")
    return Audio(data[:, 0].copy(), int(rate))


def write_wav(path: str | Path, audio: Audio, *, mulaw: bool = False) -> Path:
    """Write ``audio`` as a mono WAV, 16-bit PCM or (``mulaw=True``) G.711 mu-law. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    subtype = "ULAW" if mulaw else "PCM_16"
    sf.write(str(path), audio.pcm, audio.sample_rate, subtype=subtype, format="WAV")
    return path
