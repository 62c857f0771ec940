"""How the voice-arousal features were chosen: 14 candidate per-clip features, ranked on RAVDESS
actors 1-6 only, best combination of up to three checked on actors 7-12.

For each neutral, calm and angry clip: loudness-normalise, then measure pitch level, range,
spread and movement (librosa.yin, 10 ms hop), spectral tilt, the high-frequency ratio (all
active frames, and the loudest ones), a "vocal effort" slope (high-frequency ratio against
frame loudness), spectral flatness and centroid, loudness variation, crest factor and an
onset rate. Also on a noisy copy of each clip (white noise 25 dB below the speech), to see
which features survive a worse line. Every combination of 1-3 features is scored as the sum of
z-scores (reference and spread from the calm and neutral clips of actors 1-6, sign from each
feature's AUC there) and ranked by angry-vs-(neutral, calm) ROC-AUC on actors 1-6. Actors 7-12
are printed for the top combinations but were not used to choose.

    OMP_NUM_THREADS=1 NUMBA_CACHE_DIR=var/numba-cache python benchmarks/emotion_voice_select.py   (~1-2 min)
"""
from __future__ import annotations

import csv
import itertools
import sys
from pathlib import Path

import librosa
import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlu_datasets import RAVDESS  # noqa: E402

from voicebot.audio.wavfile import read_wav  # noqa: E402

RATE, FRAME, HOP = 8000, 256, 80
TUNE, TEST = set(range(1, 7)), set(range(7, 13))


def candidates(y: np.ndarray) -> dict:
    """Every candidate feature of one clip (float32 samples at 8 kHz)."""
    rms = librosa.feature.rms(y=y, frame_length=FRAME, hop_length=HOP)[0]
    level = 20 * np.log10(rms + 1e-9)
    active = level > level.max() - 30
    gain = -23 - 10 * np.log10(np.mean(rms[active] ** 2) + 1e-12)
    peak_db = 20 * np.log10(np.abs(y).max() + 1e-9)
    y, level = y * 10 ** (gain / 20), level + gain
    f0 = librosa.yin(y, fmin=70, fmax=500, sr=RATE, frame_length=1024, hop_length=HOP, trough_threshold=0.1)
    pitch_level = 20 * np.log10(librosa.feature.rms(y=y, frame_length=1024, hop_length=HOP)[0] + 1e-9)
    n = min(len(f0), len(pitch_level))
    voiced = (pitch_level[:n] > pitch_level[:n].max() - 20) & (f0[:n] > 73.5) & (f0[:n] < 475)
    st = 12 * np.log2(f0[:n] / 100.0)
    steps = np.abs(np.diff(st))[voiced[1:] & voiced[:-1]]
    steps, sv = steps[steps < 4], st[voiced]
    spec = np.abs(librosa.stft(y, n_fft=FRAME, hop_length=HOP)) ** 2
    freqs = librosa.fft_frequencies(sr=RATE, n_fft=FRAME)
    m = min(spec.shape[1], len(active))
    spec, act, lev = spec[:, :m], active[:m], level[:m]
    hf = 10 * np.log10((spec[freqs >= 1000].sum(0) + 1e-12) / (spec[(freqs >= 80) & (freqs < 1000)].sum(0) + 1e-12))
    loud = act & (lev > lev.max() - 25)
    band = (freqs >= 150) & (freqs <= 3500)
    mean_db = 10 * np.log10(spec[band][:, act].mean(1) + 1e-12)
    envelope = np.convolve(np.maximum(level - (level.max() - 30), 0), np.ones(5) / 5, "same")
    onsets = len(librosa.util.peak_pick(envelope, pre_max=4, post_max=4, pre_avg=8, post_avg=8, delta=2, wait=8))
    pct = lambda a, q: float(np.percentile(a, q)) if len(a) > 5 else np.nan  # noqa: E731
    return {
        "pitch_level": pct(sv, 50), "pitch_range": pct(sv, 90) - pct(sv, 10), "pitch_iqr": pct(sv, 75) - pct(sv, 25),
        "pitch_move": float(np.median(steps)) if len(steps) else np.nan,
        "tilt": float(np.polyfit(np.log2(freqs[band]), mean_db, 1)[0]),
        "hf_ratio_all": float(10 * np.log10(spec[freqs >= 1000][:, act].sum() / spec[(freqs >= 80) & (freqs < 1000)][:, act].sum())),
        "hf_ratio_loud": float(np.median(hf[loud])),
        "effort": float(np.polyfit(lev[loud], hf[loud], 1)[0]) if loud.sum() > 10 else np.nan,
        "flatness": float(10 * np.log10(np.median(librosa.feature.spectral_flatness(S=spec[:, act] + 1e-12)[0]))),
        "centroid": float(np.median(librosa.feature.spectral_centroid(S=np.sqrt(spec[:, act]), sr=RATE)[0])),
        "loudness_var": float(np.std(lev[act])), "crest": float(peak_db - 10 * np.log10(np.mean(rms[active] ** 2))),
        "onset_rate": onsets / max(act.sum() * HOP / RATE, 0.1), "voiced_share": float(voiced.sum() / max(act.sum(), 1)),
    }


def main():
    rng = np.random.default_rng(0)
    rows = []
    for r in csv.DictReader(open(RAVDESS / "manifest.csv")):
        if r["label"] not in ("neutral", "calm", "angry"):
            continue
        y = read_wav(RAVDESS / r["path"]).at_rate(RATE).pcm.astype(np.float32) / 32768
        speech_rms = np.sqrt(np.mean(y[np.abs(y) > np.abs(y).max() * 0.05] ** 2))
        noisy = y + rng.normal(size=len(y)).astype(np.float32) * speech_rms * 10 ** (-25 / 20)
        rows.append({"actor": int(r["actor"]), "label": r["label"], "plain": candidates(y), "noisy": candidates(noisy)})
    names = list(rows[0]["plain"])

    def matrix(actors, key, negatives=("neutral", "calm")):
        used = [r for r in rows if r["actor"] in actors and r["label"] in ("angry", *negatives)]
        X = np.array([[r[key][k] for k in names] for r in used], float)
        return np.where(np.isnan(X), np.nanmedian(X, 0), X), np.array([r["label"] == "angry" for r in used])

    X, y = matrix(TUNE, "plain")
    single = np.array([roc_auc_score(y, X[:, j]) for j in range(len(names))])
    sign, ref, spread = np.sign(single - 0.5), X[~y].mean(0), X[~y].std(0)
    print("per-feature AUC, actors 1-6 (angry vs neutral+calm):", {k: round(float(a), 3) for k, a in zip(names, single)})
    tests = {key: matrix(TEST, key, ("neutral",)) for key in ("plain", "noisy")}
    ranked = []
    for size in (1, 2, 3):
        for combo in itertools.combinations(range(len(names)), size):
            z = lambda M: (((M[:, combo] - ref[list(combo)]) / spread[list(combo)]) * sign[list(combo)]).sum(1)  # noqa: E731
            ranked.append((roc_auc_score(y, z(X)), combo, {k: roc_auc_score(t[1], z(t[0])) for k, t in tests.items()}))
    ranked.sort(key=lambda r: -r[0])
    print("\ntop combinations by AUC on actors 1-6 | actors 7-12 angry vs neutral (not used to choose): as is, noisy")
    for tune_auc, combo, test in ranked[:10]:
        print(f"  {tune_auc:.3f}  {' + '.join(names[j] for j in combo):45} | {test['plain']:.3f}  {test['noisy']:.3f}")


if __name__ == "__main__":
    main()
