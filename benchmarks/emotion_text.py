"""Text emotion: train the shipped heads on GoEmotions train, report on held-out GoEmotions dev.

GoEmotions labels are mapped to call-center labels by voicebot.nlu.emotion.text.GOEMOTIONS_MAP;
comments whose labels map to more than one call-center label (or none) are left out; a comment
is "frustrated" when all its labels are anger, annoyance, disappointment, disapproval or
disgust, "neutral" when its only label is neutral. GoEmotions dev is split by row: even rows
("dev-A") were used for every choice (the features: which layers; C; a binary frustration
head; TF-IDF was tried there and not shipped), odd rows ("dev-B", 2,713 comments) are reported
once. Reports macro-F1 over the five labels and frustrated-vs-neutral ROC-AUC of the
``frustration`` score that ``voicebot analyze --json`` prints (binary head + cues), of the
label head's P(frustrated), and anger vs neutral.

    OMP_NUM_THREADS=1 python benchmarks/emotion_text.py            # evaluate the shipped heads
    OMP_NUM_THREADS=1 python benchmarks/emotion_text.py --train    # retrain and write models/nlu/
The first run encodes ~49k comments (tens of minutes on 2 busy cores; cached under var/).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, f1_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlu_datasets import GOEMOTIONS, layer_features_cached, read_goemotions  # noqa: E402
from timing import p50_p95, time_each_ms  # noqa: E402

from voicebot.nlu.embeddings import MODEL_NAME  # noqa: E402
from voicebot.nlu.emotion.text import DEFAULT_HEAD, GOEMOTIONS_MAP, LABELS, TextEmotion, combine_frustration, text_cues, write_head_manifest  # noqa: E402

C = 0.3  # chosen on dev-A (0.3 / 1.0: macro-F1 0.643 / 0.639, AUC equal)


def mapped(split: str, half: str | None = None):
    """(texts, raw label lists, head features, call-center labels or None) of a GoEmotions split;
    ``half`` "A" (even rows) or "B" (odd rows) of it."""
    texts, raw = read_goemotions(split)
    layers = layer_features_cached(texts)  # (n, 5, 384): layers 1-4 and the sentence vector
    features = TextEmotion.features(layers[:, :4], layers[:, 4])
    labels = []
    for ls in raw:
        m = {GOEMOTIONS_MAP.get(x) for x in ls} - {None}
        labels.append(m.pop() if len(m) == 1 else None)
    rows = np.arange(len(texts)) if half is None else np.arange({"A": 0, "B": 1}[half], len(texts), 2)
    return [texts[i] for i in rows], [raw[i] for i in rows], features[rows], np.array(labels, dtype=object)[rows]


def evaluate(head: TextEmotion, texts, raw, features, labels) -> dict:
    keep = labels != None  # noqa: E711
    probs = head.probabilities(features)
    pred = np.array(head.labels)[probs.argmax(axis=1)]
    label_head = probs[:, head.labels.index("frustrated")]
    frustration = np.array([combine_frustration(p, text_cues(t)) for p, t in zip(head.p_frustrated(features), texts)])
    pair = keep & np.isin(labels, ["frustrated", "neutral"])
    anger = np.array([ls == ["anger"] for ls in raw])
    anger_pair = anger | (labels == "neutral")
    return {
        "n": int(keep.sum()), "n_frustrated_vs_neutral": int(pair.sum()),
        "accuracy": round(float(np.mean(pred[keep] == labels[keep])), 3),
        "macro_f1": round(float(f1_score(list(labels[keep]), list(pred[keep]), average="macro")), 3),
        "frustrated_vs_neutral_auc": round(float(roc_auc_score(labels[pair] == "frustrated", frustration[pair])), 3),
        "frustrated_vs_neutral_auc_label_head": round(float(roc_auc_score(labels[pair] == "frustrated", label_head[pair])), 3),
        "anger_vs_neutral_auc": round(float(roc_auc_score(anger[anger_pair], frustration[anger_pair])), 3),
        "report": classification_report(list(labels[keep]), list(pred[keep]), digits=3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="store_true", help=f"retrain and write {DEFAULT_HEAD}")
    args = parser.parse_args()
    held_out = mapped("dev", "B")
    if args.train:
        texts, raw, features, labels = mapped("train")
        keep = labels != None  # noqa: E711
        t = time.time()
        head = TextEmotion.fit(features[keep], list(labels[keep]), C=C)
        print(f"trained on {keep.sum()} comments in {time.time() - t:.1f}s", file=sys.stderr)
        head.save(DEFAULT_HEAD)
        metrics = {k: v for k, v in evaluate(head, *held_out).items() if k != "report"}
        data_hash = hashlib.sha256((GOEMOTIONS / "train.tsv").read_bytes()).hexdigest()
        write_head_manifest(DEFAULT_HEAD, {
            "file": DEFAULT_HEAD.name, "version": 2, "embedding_model": MODEL_NAME, "labels": list(LABELS),
            "features": "mean-pooled outputs of encoder layers 1-4 + sentence vector (5 x 384)",
            "heads": "5-label multinomial (sqrt class weights) + binary frustrated vs neutral",
            "trained_on": "GoEmotions train.tsv (mapped, single-label)", "data_sha256": data_hash, "C": C,
            "metrics_on": "GoEmotions dev.tsv odd rows (held out; even rows were used for choices)", "metrics": metrics})
    head = TextEmotion.load(DEFAULT_HEAD)
    result = evaluate(head, *held_out)
    print(result.pop("report"))
    from voicebot.nlu.understander import Understander

    understander = Understander(None, emotion=head)
    result["latency_ms_encoder_plus_heads"] = p50_p95(time_each_ms(understander.understand, held_out[0][:200]))
    print(json.dumps({"split": "GoEmotions dev, odd rows (held out)", **result}, indent=2))


if __name__ == "__main__":
    main()
