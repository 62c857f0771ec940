"""Voice arousal benchmark: angry vs neutral speech on RAVDESS, one clip at a time, unseen actors.

The score in voicebot/nlu/emotion/acoustic.py was chosen on actors 1-6 ("tune",
benchmarks/emotion_voice_select.py); actors 7-12 ("test") are only reported here. Angry (normal
and strong intensity) vs neutral clips, ROC-AUC of the arousal score:
  no baseline   - each clip on its own, against the calm-adult reference (a caller's first turn);
  baseline      - relative to the same actor's calm clips (a caller's earlier, calmer turns);
and the same clips under three recording conditions: as recorded, every clip peak-normalised
(to 0.99 full scale), and a random gain of -20..+6 dB per clip.
``--with-asr`` also runs the real recogniser + Understander on the test actors' clips (as
recorded and peak-normalised) and reports the AUC of the single-turn ``frustration`` that
``voicebot analyze --json`` prints (words and voice fused; the sentences are neutral).

    OMP_NUM_THREADS=1 NUMBA_CACHE_DIR=var/numba-cache python benchmarks/emotion_voice.py [--with-asr]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlu_datasets import RAVDESS  # noqa: E402
from timing import p50_p95, time_each_ms  # noqa: E402

from voicebot.audio.wavfile import Audio, read_wav  # noqa: E402
from voicebot.nlu.emotion.acoustic import REFERENCE, AcousticAnalyzer  # noqa: E402

TUNE_ACTORS = set(range(1, 7))
TEST_ACTORS = set(range(7, 13))
CONDITIONS = ("as_recorded", "peak_normalised", "random_gain")


def condition(audio: Audio, name: str, rng: np.random.Generator) -> Audio:
    """``audio`` as recorded, peak-normalised to 0.99 of full scale, or with a random -20..+6 dB gain."""
    pcm = audio.pcm.astype(np.float32)
    if name == "peak_normalised":
        pcm = pcm * (0.99 * 32767 / max(float(np.abs(pcm).max()), 1.0))
    elif name == "random_gain":
        pcm = pcm * 10 ** (rng.uniform(-20, 6) / 20)
    return Audio(np.clip(np.round(pcm), -32768, 32767).astype(np.int16), audio.sample_rate)


def clips(labels=("neutral", "calm", "angry")) -> list[dict]:
    return [r for r in csv.DictReader(open(RAVDESS / "manifest.csv")) if r["label"] in labels]


def load_features(analyzer: AcousticAnalyzer) -> list[dict]:
    """Features of every neutral/calm/angry clip under each recording condition."""
    rng = np.random.default_rng(0)
    out = []
    for n, r in enumerate(clips()):
        audio = read_wav(RAVDESS / r["path"])
        row = {"label": r["label"], "actor": int(r["actor"]), "path": r["path"]}
        for name in CONDITIONS:
            row[name] = analyzer.features(condition(audio, name, rng))[0]
        out.append(row)
        if n % 60 == 0:
            print(f"  features {n}/240", file=sys.stderr)
    return out


def auc(analyzer: AcousticAnalyzer, rows: list[dict], actors: set[int], key: str, with_baseline: bool) -> float:
    y, s = [], []
    for r in rows:
        if r["actor"] not in actors or r["label"] == "calm" or r[key] is None:
            continue
        baseline = None
        if with_baseline:
            baseline = [b[key] for b in rows if b["actor"] == r["actor"] and b["label"] == "calm" and b[key]]
        y.append(r["label"] == "angry")
        s.append(analyzer.score(r[key], baseline))
    return round(float(roc_auc_score(y, s)), 3)


def per_feature_auc(rows: list[dict], actors: set[int]) -> dict:
    used = [r for r in rows if r["actor"] in actors and r["label"] != "calm" and r["as_recorded"]]
    y = [r["label"] == "angry" for r in used]
    return {k: round(float(roc_auc_score(y, [r["as_recorded"][k] for r in used])), 3) for k in REFERENCE}


def with_asr(rows: list[dict]) -> dict:
    """AUC of ``analyze --json``'s single-turn frustration (and arousal) on the test actors' clips."""
    from voicebot.asr.registry import load_asr
    from voicebot.config import load_settings
    from voicebot.flows.loader import load_flow
    from voicebot.nlu.understander import Understander

    asr = load_asr("auto")
    understander = Understander.from_examples(load_flow(load_settings().flow_path).intents, acoustic=AcousticAnalyzer())
    rng = np.random.default_rng(0)
    out = {}
    for name in ("as_recorded", "peak_normalised"):
        y, frustration, arousal = [], [], []
        for r in rows:
            if r["actor"] not in TEST_ACTORS or r["label"] == "calm":
                continue
            audio = condition(read_wav(RAVDESS / r["path"]), name, rng)
            text = asr.transcribe(audio.pcm, audio.sample_rate).text
            understanding, voice = understander.understand_turn(text, audio, None)
            y.append(r["label"] == "angry")
            frustration.append(understanding.frustration)
            arousal.append(voice.arousal if voice and voice.arousal is not None else 0.0)
        out[name] = {"frustration_auc": round(float(roc_auc_score(y, frustration)), 3),
                     "arousal_auc": round(float(roc_auc_score(y, arousal)), 3), "n": len(y)}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with-asr", action="store_true", help="also score analyze's fused frustration through the recogniser (~2 min)")
    args = parser.parse_args()
    analyzer = AcousticAnalyzer()
    rows = load_features(analyzer)
    report = {"clips": "RAVDESS angry (normal + strong) vs neutral; calm clips only as the baseline"}
    for actors, name in ((TUNE_ACTORS, "tune_actors_1_6"), (TEST_ACTORS, "test_actors_7_12")):
        report[name] = {cond: {"no_baseline": auc(analyzer, rows, actors, cond, False),
                               "baseline": auc(analyzer, rows, actors, cond, True)} for cond in CONDITIONS}
    report["per_feature_auc_tune"] = per_feature_auc(rows, TUNE_ACTORS)
    report["per_feature_auc_test"] = per_feature_auc(rows, TEST_ACTORS)
    if args.with_asr:
        report["analyze_frustration_test_actors"] = with_asr(rows)
    audio = read_wav(RAVDESS / "wav" / "03-01-05-02-01-01-01.wav")
    report["latency_ms_per_clip_4s"] = p50_p95(time_each_ms(analyzer.analyze, [audio] * 30))
    long = Audio(np.tile(audio.at_rate(8000).pcm, 4)[: 8000 * 10], 8000)  # the longest turn analysed
    report["latency_ms_per_clip_10s"] = p50_p95(time_each_ms(analyzer.analyze, [long] * 30))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
