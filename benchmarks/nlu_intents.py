"""Intent accuracy and out-of-scope (OOS) recall on CLINC150; latency of understand().

Protocol: choose C and thresholds on train/val, report on test (5,500 queries: 4,500 in
scope, 1,000 OOS). Settings:
  full      - all 15,000 in-scope training queries (+100 OOS for calibration, as `nlu train` does)
  full+val  - same head, thresholds re-tuned on val (3,000 in-scope + 100 OOS)
  fewshot10 - 10 queries per intent, no OOS examples at all (thresholds from the examples alone),
              averaged over 3 random draws
"in-scope accuracy (no rejection)" is the plain classifier (the logistic-regression baseline);
"in-scope accuracy" counts a wrongly rejected in-scope query as an error.

    OMP_NUM_THREADS=1 python benchmarks/nlu_intents.py [--quick]
The first run embeds ~24k queries (a few minutes on 2 shared cores; cached under var/).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlu_datasets import CACHE, read_clinc  # noqa: E402
from timing import p50_p95, time_each_ms  # noqa: E402

from voicebot.nlu.embeddings import embed_cached  # noqa: E402
from voicebot.nlu.intents import OOS, IntentClassifier  # noqa: E402


def load(split):
    texts, labels = read_clinc(split)
    return texts, np.array(labels, dtype=object), embed_cached(texts, CACHE)


def report(head: IntentClassifier, E, y) -> dict:
    preds = np.array([p.intent for p in head.predict_many(E)], dtype=object)
    probs = head.probabilities(E)
    raw = np.array(head.classes, dtype=object)[probs.argmax(axis=1)]
    ins = y != OOS
    return {
        "in_scope_accuracy_no_rejection": round(float(np.mean(raw[ins] == y[ins])), 4),
        "in_scope_accuracy": round(float(np.mean(preds[ins] == y[ins])), 4),
        "oos_recall": round(float(np.mean(preds[~ins] == OOS)), 4) if (~ins).any() else None,
        "overall_accuracy": round(float(np.mean(preds == y)), 4),
        "thresholds": {"prob": round(head.prob_threshold, 3), "sim": round(head.sim_threshold, 3)},
    }


def few_shot(train, k: int, seed: int):
    texts, y, E = train
    rng = np.random.default_rng(seed)
    idx = []
    for label in sorted(set(y) - {OOS}):
        rows = np.flatnonzero(y == label)
        idx.extend(rng.choice(rows, size=k, replace=False))
    return E[idx], y[idx]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the C sweep (use the chosen C)")
    args = parser.parse_args()
    train, val, test = load("train"), load("val"), load("test")
    _, ytr, Etr = train
    _, yva, Eva = val
    out = {}
    # C sweep on val (no rejection), full and few-shot
    if not args.quick:
        sweep = {}
        for C in (1, 3, 10, 30, 100):
            head = IntentClassifier.fit(Etr, ytr, C=C, calibrate=False)
            fs = IntentClassifier.fit(*few_shot(train, 10, 0), C=C, calibrate=False)
            ins = yva != OOS
            sweep[C] = {"full": report(head, Eva[ins], yva[ins])["in_scope_accuracy_no_rejection"],
                        "fewshot10": report(fs, Eva[ins], yva[ins])["in_scope_accuracy_no_rejection"]}
        out["val_C_sweep"] = sweep
    t = time.time()
    head = IntentClassifier.fit(Etr, ytr)
    out["train_seconds_full"] = round(time.time() - t, 1)
    out["full"] = report(head, test[2], test[1])
    head.calibrate(Eva, yva)
    out["full+val"] = report(head, test[2], test[1])
    runs = []
    for seed in range(3):
        X, y = few_shot(train, 10, seed)
        runs.append(report(IntentClassifier.fit(X, y), test[2], test[1]))
    out["fewshot10_mean_of_3"] = {k: round(float(np.mean([r[k] for r in runs])), 4) for k in runs[0] if k != "thresholds"}
    out["fewshot10_runs"] = runs
    out["latency_ms"] = latency(test[0][:300])
    out["from_examples_seconds_100_phrases"] = from_examples_time(train)
    print(json.dumps(out, indent=2))


def from_examples_time(train) -> dict:
    """Understander.from_examples on 10 intents x 10 phrases (a large flow), model already loaded."""
    from voicebot.nlu.understander import Understander

    texts, y, _ = train
    labels = sorted(set(y) - {OOS})[:10]
    examples = {l: [t for t, lab in zip(texts, y) if lab == l][:10] for l in labels}
    Understander.from_examples(examples)  # warm: loads the embedder
    times = []
    for _ in range(5):
        start = time.perf_counter()
        Understander.from_examples(examples)
        times.append(time.perf_counter() - start)
    return {"p50": round(float(np.percentile(times, 50)), 2), "max": round(max(times), 2)}


def latency(texts) -> dict:
    """Warm understand() per utterance (embedding + intent head + text emotion + entities)."""
    from voicebot.nlu.understander import Understander

    und = Understander.from_examples({"billing": ["question about my bill", "I was charged twice"],
                                      "orders": ["where is my order", "track my package"]})
    for t in texts[:20]:
        und.understand(t)
    times = time_each_ms(und.understand, texts)
    return {"n": len(times), **p50_p95(times)}


if __name__ == "__main__":
    main()
