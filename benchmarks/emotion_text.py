"""Text emotion: train the shipped head on GoEmotions train, report on GoEmotions dev (held out).

GoEmotions labels are mapped to call-center labels by voicebot.nlu.emotion.text.GOEMOTIONS_MAP;
comments whose labels map to more than one call-center label (or none) are left out.
Reports macro-F1 over the five labels and the frustration ROC-AUC, frustrated vs neutral,
for the full "frustrated" mapping and for anger alone, with and without text cues.
C barely matters (0.3-10 moved dev macro-F1 by < 0.005); the class weighting is explained in
TextEmotion.fit.

    OMP_NUM_THREADS=1 python benchmarks/emotion_text.py            # evaluate the shipped head
    OMP_NUM_THREADS=1 python benchmarks/emotion_text.py --train    # retrain and write models/nlu/
The first run embeds ~49k comments (several minutes on 2 shared cores; cached under var/).
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
from nlu_datasets import CACHE, GOEMOTIONS, read_goemotions  # noqa: E402
from timing import p50_p95, time_each_ms  # noqa: E402

from voicebot.nlu.embeddings import MODEL_NAME, embed_cached  # noqa: E402
from voicebot.nlu.emotion.text import DEFAULT_HEAD, GOEMOTIONS_MAP, LABELS, TextEmotion, combine_frustration, text_cues, write_head_manifest  # noqa: E402

C = 1.0


def mapped(split: str):
    """(texts, raw label lists, embeddings, call-center labels or None) of a GoEmotions split."""
    texts, raw = read_goemotions(split)
    emb = embed_cached(texts, CACHE)
    labels = []
    for ls in raw:
        m = {GOEMOTIONS_MAP.get(x) for x in ls} - {None}
        labels.append(m.pop() if len(m) == 1 else None)
    return texts, raw, emb, np.array(labels, dtype=object)


def evaluate(head: TextEmotion, texts, raw, emb, labels) -> dict:
    keep = labels != None  # noqa: E711
    probs = head.probabilities(emb)
    pred = np.array(head.labels)[probs.argmax(axis=1)]
    frus = probs[:, head.labels.index("frustrated")]
    with_cues = np.array([combine_frustration(p, text_cues(t)) for p, t in zip(frus, texts)])
    pair = keep & np.isin(labels, ["frustrated", "neutral"])
    anger = np.array([ls == ["anger"] for ls in raw])
    anger_pair = anger | (labels == "neutral")
    return {
        "n": int(keep.sum()),
        "accuracy": round(float(np.mean(pred[keep] == labels[keep])), 3),
        "macro_f1": round(float(f1_score(list(labels[keep]), list(pred[keep]), average="macro")), 3),
        "frustrated_vs_neutral_auc": round(float(roc_auc_score(labels[pair] == "frustrated", frus[pair])), 3),
        "frustrated_vs_neutral_auc_with_cues": round(float(roc_auc_score(labels[pair] == "frustrated", with_cues[pair])), 3),
        "anger_vs_neutral_auc_with_cues": round(float(roc_auc_score(anger[anger_pair], with_cues[anger_pair])), 3),
        "report": classification_report(list(labels[keep]), list(pred[keep]), digits=3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="store_true", help=f"retrain and write {DEFAULT_HEAD}")
    args = parser.parse_args()
    dev = mapped("dev")
    if args.train:
        texts, raw, emb, labels = mapped("train")
        keep = labels != None  # noqa: E711
        t = time.time()
        head = TextEmotion.fit(emb[keep], list(labels[keep]), C=C)
        print(f"trained on {keep.sum()} comments in {time.time() - t:.1f}s", file=sys.stderr)
        head.save(DEFAULT_HEAD)
        metrics = {k: v for k, v in evaluate(head, *dev).items() if k != "report"}
        data_hash = hashlib.sha256((GOEMOTIONS / "train.tsv").read_bytes()).hexdigest()
        write_head_manifest(DEFAULT_HEAD, {
            "file": DEFAULT_HEAD.name, "version": 1, "embedding_model": MODEL_NAME, "labels": list(LABELS),
            "trained_on": "GoEmotions train.tsv (mapped, single-label)", "data_sha256": data_hash, "C": C,
            "metrics_on": "GoEmotions dev.tsv (held out)", "metrics": metrics})
    head = TextEmotion.load(DEFAULT_HEAD)
    result = evaluate(head, *dev)
    print(result.pop("report"))
    from voicebot.nlu.embeddings import get_embedder
    embedder = get_embedder()
    times = time_each_ms(lambda text: head.classify(text, embedder.embed_one(text)), dev[0][:200])
    result["latency_ms_embed_plus_head"] = p50_p95(times)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
