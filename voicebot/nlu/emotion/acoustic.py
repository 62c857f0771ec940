"""Voice arousal from prosody (librosa): is the caller speaking more agitatedly than usual?

Every feature is measured per clip and does not depend on the recording level (each clip is
loudness-normalised first, and the features are slopes, ratios and pitch intervals):
  * ``tilt_db_oct``: slope of the average speech spectrum, 150-3500 Hz, in dB per octave; a
    raised, strained voice puts relatively more energy into the upper harmonics;
  * ``hf_ratio_db``: energy above 1 kHz relative to 80-1000 Hz in the loudest frames (within
    25 dB of the loudest), the same effect measured where the voice is strongest;
  * ``pitch_move_st``: median pitch change between successive 10 ms voiced frames, in
    semitones: an agitated voice moves its pitch more.
``analyze(audio, baseline)`` turns them into an arousal score in [0, 1]: 0.5 means "like this
caller's earlier turns" (``baseline``) or, with no baseline, like a typical calm adult speaker.

How they were chosen (benchmarks/emotion_voice.py, docs/nlu.md): 16 candidate features
(pitch level, range, movement, spectral tilt, high-frequency ratio, centroid, flatness,
loudness variation, crest factor, onset rate, ...) were measured on RAVDESS actors 1-6 only;
every combination of up to three was ranked by its angry-vs-(neutral, calm) ROC-AUC there, and
the best is used, with equal weights and each feature scaled by the spread of the calm and
neutral clips of actors 1-6. Actors 7-12 were never used for a choice. A channel change (an
equaliser, another microphone) shifts a feature by about the same amount for every clip,
which moves the 0.5 point but not the ranking; features that collapse in noise (spectral
flatness, centroid, loudness variation) were left out. No model trained on RAVDESS is shipped:
the only numbers taken from it are the three reference means and spreads below.

Cost: a few ms per second of speech, cheap enough for every caller turn. librosa compiles a
dozen numba kernels when its modules load (~18 s with an empty ``NUMBA_CACHE_DIR``, instant
from the cache); ``_load_librosa`` does that under an inter-process lock so two processes never
write the shared cache at once (a corrupted entry once segfaulted every process). No lazily
JIT-compiled function (pyin, onset detection) is used. ``warm_up()`` pays all of this at start-up.
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
MIN_SPEECH_S = 0.3     # less active speech than this: no voice evidence
MAX_ANALYSED_S = 10.0  # longer turns are judged on their first 10 s (cost grows with length)
FMIN, FMAX = 70.0, 500.0
FRAME, HOP = 256, 80   # 32 ms spectra every 10 ms
PITCH_FRAME = 512      # 64 ms (more than two periods of FMIN); 1024 was 2.7x slower and no better on actors 1-6
MAX_PITCH_STEP_ST = 4.0  # a larger jump between 10 ms frames is a tracking error (octave), not speech

# feature -> (reference, spread): the mean and standard deviation over the neutral and calm
# clips of RAVDESS actors 1-6. z = (value - reference) / spread; every feature rises with arousal.
REFERENCE = {
    "tilt_db_oct": (-6.782, 0.930),
    "hf_ratio_db": (-12.338, 2.409),
    "pitch_move_st": (0.1003, 0.0298),
}


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
    reason: str = ""            # why arousal is None ("silence", "too short"), or "clipped"


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
        """Level-independent features of one clip, or (None, reason) for silence or too little speech."""
        librosa = _load_librosa()

        y = audio.at_rate(RATE).pcm[: int(RATE * MAX_ANALYSED_S)].astype(np.float32) / 32768.0
        if len(y) < RATE * MIN_SPEECH_S:
            return None, "too short"
        clipped = float(np.mean(np.abs(y) > 0.99))
        rms = librosa.feature.rms(y=y, frame_length=FRAME, hop_length=HOP)[0]
        level = 20 * np.log10(rms + 1e-9)
        active = level > level.max() - 30
        if level.max() < -60 or active.sum() * HOP / RATE < MIN_SPEECH_S:
            return None, "silence"
        gain_db = TARGET_RMS_DB - 10 * np.log10(np.mean(rms[active] ** 2) + 1e-12)
        y = y * np.float32(10 ** (gain_db / 20))  # loudness normalisation: no feature sees the level
        level = level + gain_db
        speaking = np.flatnonzero(active)  # pitch only where someone speaks: yin is the costly part
        moves = self._pitch_moves(y[max(speaking[0] * HOP - 400, 0): speaking[-1] * HOP + 656])
        if len(moves) < 5:
            return None, "no voiced speech"
        spec = np.abs(librosa.stft(y, n_fft=FRAME, hop_length=HOP)) ** 2
        freqs = librosa.fft_frequencies(sr=RATE, n_fft=FRAME)
        n = min(spec.shape[1], len(active))
        spec, active, level = spec[:, :n], active[:n], level[:n]
        band = (freqs >= 150) & (freqs <= 3500)
        mean_db = 10 * np.log10(spec[band][:, active].mean(axis=1) + 1e-12)
        tilt = np.polyfit(np.log2(freqs[band]), mean_db, 1)[0]
        loud = active & (level > level.max() - 25)
        low = spec[(freqs >= 80) & (freqs < 1000)][:, loud].sum(axis=0) + 1e-12
        high = spec[freqs >= 1000][:, loud].sum(axis=0) + 1e-12
        return {
            "tilt_db_oct": float(tilt),
            "hf_ratio_db": float(np.median(10 * np.log10(high / low))),
            "pitch_move_st": float(np.median(moves)),
            "clipped_fraction": clipped,
            "speech_s": float(active.sum() * HOP / RATE),
        }, ""

    @staticmethod
    def _pitch_moves(y: np.ndarray) -> np.ndarray:
        """|pitch change| in semitones between successive voiced 10 ms frames of normalised ``y``.

        librosa.yin (~1 ms per second of speech) rather than pyin (~30 ms and a lazy numba JIT):
        yin has no voicing decision, so a frame counts as voiced when it is within 20 dB of the
        loudest frame and its f0 is not pinned to the search range's edges."""
        librosa = _load_librosa()

        f0 = librosa.yin(y, fmin=FMIN, fmax=FMAX, sr=RATE, frame_length=PITCH_FRAME, hop_length=HOP,
                         trough_threshold=0.1)
        level = 20 * np.log10(librosa.feature.rms(y=y, frame_length=PITCH_FRAME, hop_length=HOP)[0] + 1e-9)
        n = min(len(f0), len(level))
        f0, level = f0[:n], level[:n]
        voiced = (level > level.max() - 20) & (f0 > FMIN * 1.05) & (f0 < FMAX * 0.95)
        steps = np.abs(np.diff(12 * np.log2(f0 / 100.0)))[voiced[1:] & voiced[:-1]]
        return steps[steps < MAX_PITCH_STEP_ST]

    def score(self, feats: dict, baseline: list[dict] | None = None) -> float:
        """Arousal in [0, 1] of ``feats``: relative to the median of ``baseline`` (this caller's
        earlier turns) when given, else to a calm adult; 0.5 = the same, rising with agitation."""
        z = 0.0
        for key, (reference, spread) in REFERENCE.items():
            if baseline:
                reference = float(np.median([b[key] for b in baseline]))
            z += (feats[key] - reference) / spread
        z /= math.sqrt(len(REFERENCE))
        return 1.0 / (1.0 + math.exp(-min(max(z, -30.0), 30.0)))

    def analyze(self, audio: Audio, baseline: list[dict] | None = None) -> VoiceResult:
        """Features and arousal of one caller turn; arousal None for silence or too little speech.
        Heavily clipped audio still gets a score, but ``reason`` says "clipped"."""
        feats, reason = self.features(audio)
        if feats is None:
            return VoiceResult(None, None, reason)
        reason = "clipped" if feats["clipped_fraction"] > 0.01 else ""
        return VoiceResult(self.score(feats, baseline), feats, reason)
