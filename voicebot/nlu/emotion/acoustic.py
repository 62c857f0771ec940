"""Voice arousal from prosody (librosa): is the caller speaking more agitatedly than before?

Each clip is first loudness-normalised (phone lines differ; loudness alone is not an
emotion), then described by pitch level (librosa.yin), spectral balance (energy above
1 kHz, spectral flatness) and loudness dynamics. ``analyze(audio, baseline)`` turns these
into an arousal score in [0, 1]:
0.5 means "like this caller's earlier turns" (``baseline``) or, with no baseline, like a
typical calm adult speaker. The feature choice, signs and scales are a hand-set heuristic
tuned on RAVDESS actors 1-6 and evaluated on unseen actors 7-12 (benchmarks/emotion_voice.py,
docs/nlu.md); no model trained on RAVDESS is shipped.

Cost: ~1-2 ms per second of speech (benchmarks/emotion_voice.py), cheap enough to run on every
caller turn. librosa compiles a dozen numba kernels when its modules load (~18 s with an empty
``NUMBA_CACHE_DIR``, instant from the cache); ``_load_librosa`` does that under an inter-process
lock so two processes never write the shared cache at once (a corrupted entry once segfaulted
every process). No lazily JIT-compiled function (pyin, onset detection) is used.
``warm_up()`` pays all of this at start-up.
"""
from __future__ import annotations

import fcntl
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[3] / "var" / "numba-cache"))

import numpy as np

from voicebot.audio.wavfile import Audio

RATE = 8000            # everything is analysed at telephone rate
TARGET_RMS_DB = -23.0  # loudness normalisation target (dBFS of active speech)
MIN_SPEECH_S = 0.3     # less voiced speech than this: no voice evidence
MAX_ANALYSED_S = 10.0  # longer turns are judged on their first 10 s (cost grows with length)
FMIN, FMAX = 70.0, 500.0
PITCH_FRAME, PITCH_HOP = 1024, 256  # 128 ms window (yin needs > 2 periods of FMIN), 32 ms hop

# feature -> (sign, scale): z = sign * (value - reference) / scale. Chosen on RAVDESS actors 1-6:
# each feature's own angry-vs-neutral AUC there was pitch 0.86, hf 0.77, flatness 0.76,
# loudness variation 0.77 (with yin pitch: 0.84). Pitch range (0.19, octave jumps in soft speech)
# is reported but not scored; speaking rate (onsets per second, 0.59) was dropped.
WEIGHTS = {
    "pitch_st": (+1, 3.0),        # median f0, semitones re 100 Hz: agitation raises pitch
    "hf_ratio_db": (+1, 3.0),     # energy above 1 kHz relative to below: a strained voice is brighter
    "flatness_db": (+1, 3.0),     # spectral flatness of active frames: shouting is noisier
    "loudness_var_db": (+1, 1.0), # spread of frame loudness after normalisation
}
# Reference values of a calm adult, used when there is no baseline (actors 1-6, neutral speech).
POPULATION_REFERENCE = {"pitch_st": 9.0, "hf_ratio_db": -7.0, "flatness_db": -50.0, "loudness_var_db": 7.8}
# Without a baseline, pitch level says more about the speaker (gender, age) than the mood: unused.
NEEDS_BASELINE = {"pitch_st"}


_librosa = None
_librosa_lock = threading.Lock()


def _load_librosa():
    """librosa with its numba kernels loaded, compiled at most by one process at a time."""
    global _librosa
    with _librosa_lock:
        if _librosa is None:
            cache = Path(os.environ["NUMBA_CACHE_DIR"])
            try:
                cache.mkdir(parents=True, exist_ok=True)
                lock_file = open(cache / ".voicebot-librosa.lock", "a")
            except OSError:  # unwritable cache: numba then compiles in memory, nothing shared to protect
                lock_file = None
            try:
                if lock_file is not None:
                    fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed
                import librosa
                import librosa.core  # noqa: F401  (lazy modules: loading them compiles/loads the kernels)
                import librosa.feature  # noqa: F401

                librosa.yin  # noqa: B018
                _librosa = librosa
            finally:
                if lock_file is not None:
                    lock_file.close()
        return _librosa


@dataclass(frozen=True)
class VoiceResult:
    arousal: float | None       # [0, 1]; None when there is no usable speech
    features: dict | None
    reason: str = ""            # why arousal is None ("silence", "too short", "clipped")


class AcousticAnalyzer:
    """Stateless prosody analyser; one per process is enough (thread-safe: no shared state)."""

    def __init__(self, warm: bool = True):
        if warm:
            self.warm_up()

    def warm_up(self) -> None:
        """Analyse a short tone once so librosa's imports and first-call costs happen now."""
        t = np.arange(RATE // 2) / RATE
        self.features(Audio((np.sin(2 * np.pi * 150 * t) * 8000).astype(np.int16), RATE))

    def features(self, audio: Audio) -> tuple[dict | None, str]:
        """Prosodic features of one clip, or (None, reason) for silence or too little speech."""
        librosa = _load_librosa()

        y = audio.at_rate(RATE).pcm[: int(RATE * MAX_ANALYSED_S)].astype(np.float32) / 32768.0
        if len(y) < RATE * MIN_SPEECH_S:
            return None, "too short"
        clipped = np.mean(np.abs(y) > 0.99)
        frame, hop = 512, 128
        rms = librosa.feature.rms(y=y, frame_length=frame, hop_length=hop)[0]
        rms_db = 20 * np.log10(rms + 1e-9)
        active = rms_db > rms_db.max() - 35
        if rms_db.max() < -60 or active.sum() * hop / RATE < MIN_SPEECH_S:
            return None, "silence"
        gain_db = TARGET_RMS_DB - 10 * np.log10(np.mean(rms[active] ** 2) + 1e-12)
        y = y * (10 ** (gain_db / 20))  # loudness normalisation; the score never sees level
        semitones = self._pitch_semitones(y)
        if len(semitones) * PITCH_HOP / RATE < MIN_SPEECH_S * 0.5:
            return None, "no voiced speech"
        spec = np.abs(librosa.stft(y, n_fft=frame, hop_length=hop)) ** 2
        freqs = librosa.fft_frequencies(sr=RATE, n_fft=frame)
        n = min(spec.shape[1], len(active))
        spec, act = spec[:, :n], active[:n]
        high = spec[freqs >= 1000][:, act].sum()
        low = spec[(freqs >= 80) & (freqs < 1000)][:, act].sum()
        flat = librosa.feature.spectral_flatness(S=spec[:, act] + 1e-12)[0]
        loud = 20 * np.log10(librosa.feature.rms(y=y, frame_length=frame, hop_length=hop)[0][:n][act] + 1e-9)
        feats = {
            "pitch_st": float(np.median(semitones)),
            "pitch_range_st": float(np.percentile(semitones, 90) - np.percentile(semitones, 10)),
            "hf_ratio_db": float(10 * np.log10((high + 1e-12) / (low + 1e-12))),
            "flatness_db": float(10 * np.log10(np.median(flat) + 1e-12)),
            "loudness_var_db": float(np.std(loud)),
            "clipped_fraction": float(clipped),
            "speech_s": float(act.sum() * hop / RATE),
        }
        return feats, ""

    @staticmethod
    def _pitch_semitones(y: np.ndarray) -> np.ndarray:
        """Pitch (semitones re 100 Hz) of the voiced frames of loudness-normalised ``y``.

        librosa.yin (~1 ms per second of speech) rather than pyin (~30 ms and a lazy numba JIT):
        yin has no voicing decision, so a frame counts as voiced when it is within 20 dB of the
        loudest frame and its f0 is not pinned to the search range's edges."""
        librosa = _load_librosa()

        f0 = librosa.yin(y, fmin=FMIN, fmax=FMAX, sr=RATE, frame_length=PITCH_FRAME, hop_length=PITCH_HOP,
                         trough_threshold=0.1)
        level = 20 * np.log10(librosa.feature.rms(y=y, frame_length=PITCH_FRAME, hop_length=PITCH_HOP)[0] + 1e-9)
        n = min(len(f0), len(level))
        f0, level = f0[:n], level[:n]
        voiced = (level > level.max() - 20) & (f0 > FMIN * 1.05) & (f0 < FMAX * 0.95)
        return 12 * np.log2(f0[voiced] / 100.0)

    def score(self, feats: dict, baseline: list[dict] | None = None) -> float:
        """Arousal in [0, 1] of ``feats`` relative to ``baseline`` features (median), else the population."""
        if baseline:
            reference = {k: float(np.median([b[k] for b in baseline])) for k in WEIGHTS}
            keys = list(WEIGHTS)
        else:
            reference = POPULATION_REFERENCE
            keys = [k for k in WEIGHTS if k not in NEEDS_BASELINE]
        z = sum(WEIGHTS[k][0] * (feats[k] - reference[k]) / WEIGHTS[k][1] for k in keys) / math.sqrt(len(keys))
        return 1.0 / (1.0 + math.exp(-min(max(z, -30.0), 30.0)))

    def analyze(self, audio: Audio, baseline: list[dict] | None = None) -> VoiceResult:
        """Features and arousal of one caller turn; arousal None for silence or too little speech.
        Heavily clipped audio still gets a score, but ``reason`` says "clipped"."""
        feats, reason = self.features(audio)
        if feats is None:
            return VoiceResult(None, None, reason)
        reason = "clipped" if feats["clipped_fraction"] > 0.01 else ""
        return VoiceResult(self.score(feats, baseline), feats, reason)
