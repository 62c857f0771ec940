"""Voice arousal benchmark: angry vs neutral speech on RAVDESS, loudness-normalised, unseen actors.

The heuristic in voicebot/nlu/emotion/acoustic.py was tuned on actors 1-6 ("tune"); actors
7-12 ("test") were only used for this report. Two settings:
  no baseline  - each clip on its own, against population reference values (pitch level unused);
  baseline     - relative to the same actor's "calm" clips (standing in for a caller's earlier,
                 calmer turns; calm clips are never scored).
Each clip is also scored after a random gain of -20..+6 dB, to show loudness does not matter.

    OMP_NUM_THREADS=1 NUMBA_CACHE_DIR=var/numba-cache python benchmarks/emotion_voice.py [--per-feature]
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlu_datasets import CACHE, RAVDESS  # noqa: E402
from timing import p50_p95, time_each_ms  # noqa: E402

from voicebot.audio.wavfile import Audio, read_wav  # noqa: E402
from voicebot.nlu.emotion import acoustic  # noqa: E402
from voicebot.nlu.emotion.acoustic import AcousticAnalyzer  # noqa: E402

TUNE_ACTORS = {1, 2, 3, 4, 5, 6}


def load_features(analyzer: AcousticAnalyzer) -> list[dict]:
    """Features of every neutral/calm/angry clip, cached in var/nlu-cache (also a gain-shifted copy);
    the cache is keyed by acoustic.py's source, so changing the features recomputes them."""
    version = hashlib.sha256(Path(acoustic.__file__).read_bytes()).hexdigest()[:12]
    cache = CACHE / f"ravdess-features-{version}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    rows = [r for r in csv.DictReader(open(RAVDESS / "manifest.csv")) if r["label"] in ("neutral", "calm", "angry")]
    rng = np.random.default_rng(0)
    out = []
    for n, r in enumerate(rows):
        audio = read_wav(RAVDESS / r["path"])
        gain = 10 ** (rng.uniform(-20, 6) / 20)
        shifted = Audio(np.clip(audio.pcm.astype(np.float32) * gain, -32768, 32767).astype(np.int16), audio.sample_rate)
        feats, _ = analyzer.features(audio)
        feats_shifted, _ = analyzer.features(shifted)
        out.append({"label": r["label"], "actor": int(r["actor"]), "gender": r["gender"],
                    "features": feats, "features_gain_shifted": feats_shifted})
        if n % 40 == 0:
            print(f"  features {n}/{len(rows)}", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def evaluate(analyzer: AcousticAnalyzer, rows: list[dict], actors: set[int], key: str = "features") -> dict:
    results = {}
    for mode in ("no_baseline", "baseline"):
        y, s = [], []
        for r in rows:
            if r["actor"] not in actors or r["label"] == "calm" or r[key] is None:
                continue
            baseline = None
            if mode == "baseline":
                baseline = [b["features"] for b in rows if b["actor"] == r["actor"] and b["label"] == "calm" and b["features"]]
            y.append(r["label"] == "angry")
            s.append(analyzer.score(r[key], baseline))
        results[mode] = round(float(roc_auc_score(y, s)), 3)
    results["n"] = len(y)
    return results


def per_feature_auc(rows, actors):
    used = [r for r in rows if r["actor"] in actors and r["label"] != "calm" and r["features"]]
    y = [r["label"] == "angry" for r in used]
    out = {}
    for k in used[0]["features"]:
        if k in ("clipped_fraction", "speech_s"):
            continue
        v = [r["features"][k] for r in used]
        out[k] = round(float(roc_auc_score(y, v)), 3)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-feature", action="store_true", help="also print each feature's AUC on the tuning actors")
    args = parser.parse_args()
    analyzer = AcousticAnalyzer()
    rows = load_features(analyzer)
    test_actors = set(range(1, 13)) - TUNE_ACTORS
    report = {
        "tune_actors_1_6": evaluate(analyzer, rows, TUNE_ACTORS),
        "test_actors_7_12": evaluate(analyzer, rows, test_actors),
        "test_actors_7_12_random_gain": evaluate(analyzer, rows, test_actors, "features_gain_shifted"),
    }
    if args.per_feature:
        report["per_feature_auc_tune"] = per_feature_auc(rows, TUNE_ACTORS)
    audio = read_wav(RAVDESS / "wav" / "03-01-05-02-01-01-01.wav")
    report["latency_ms_per_clip_3s"] = p50_p95(time_each_ms(analyzer.analyze, [audio] * 30))
    long = Audio(np.tile(audio.at_rate(8000).pcm, 4)[: 8000 * 10], 8000)  # the longest turn analysed (MAX_ANALYSED_S)
    report["latency_ms_per_clip_10s"] = p50_p95(time_each_ms(analyzer.analyze, [long] * 30))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
