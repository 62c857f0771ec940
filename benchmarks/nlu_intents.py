"""Intent accuracy, out-of-scope (OOS) recall and latency: the frozen encoder vs the fine-tuned one.

Two stages, so that nothing is chosen on data it is reported on:
  choose  CLINC150 train -> validation only, on two halves of its ten domains: domains 1-5
          (banking ... auto_and_commute, 75 intents) were used for every choice of the recipe
          (fine-tuning settings, the rejection percentile); domains 6-10 (travel ... meta,
          75 intents) stand in for "a new domain" and were only checked. Full training data
          (100 per intent + the 100 OOS training queries) and 10 per intent (no OOS examples).
  test    the CLINC150 test split, once, for the finished recipe: all 150 intents, full
          training set and 10 per intent (draws given by --draws).
Columns: accuracy before rejection (the classifier alone), in-scope accuracy with rejection
(a wrongly rejected in-scope query counts as an error), OOS recall.
``--latency`` times a warm ``understand()`` (intent + text emotion + entities) per utterance,
as wall-clock and as this process's CPU time (the same on an idle machine; on a busy one the
CPU time is the cost and the wall-clock adds the wait for a core).

    OMP_NUM_THREADS=1 python benchmarks/nlu_intents.py --stage choose      (~30 min on 2 busy cores)
    OMP_NUM_THREADS=1 python benchmarks/nlu_intents.py --stage test        (~30 min)
    OMP_NUM_THREADS=1 python benchmarks/nlu_intents.py --latency
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlu_datasets import CLINC, read_clinc  # noqa: E402
from timing import p50_p95, time_each_ms  # noqa: E402

from voicebot.nlu.intent_training import train_intent_model  # noqa: E402
from voicebot.nlu.intents import OOS  # noqa: E402
from voicebot.nlu.understander import Understander  # noqa: E402


def subset(split: str, intents: set[str] | None, with_oos: bool = True) -> list[tuple[str, str]]:
    rows = zip(*read_clinc(split))
    return [(t, l) for t, l in rows if (intents is None or l in intents) or (with_oos and l == OOS)]


def few_shot(rows: list[tuple[str, str]], k: int, seed: int) -> list[tuple[str, str]]:
    """``k`` random examples of every in-scope intent, no OOS examples."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[str]] = {}
    for text, label in rows:
        if label != OOS:
            by_label.setdefault(label, []).append(text)
    return [(t, l) for l in sorted(by_label) for t in rng.choice(by_label[l], k, replace=False)]


def run(train: list[tuple[str, str]], test: list[tuple[str, str]], fine_tune: bool) -> dict:
    start = time.time()
    model = train_intent_model([t for t, _ in train], [l for _, l in train], fine_tune_encoder=fine_tune)
    seconds = time.time() - start
    predictions = Understander.from_model(model).predict_intents([t for t, _ in test])
    gold = np.array([l for _, l in test], dtype=object)
    top = np.array([max(p.scores, key=p.scores.get) for p in predictions], dtype=object)
    final = np.array([p.intent for p in predictions], dtype=object)
    ins = gold != OOS
    return {"accuracy_before_rejection": round(float(np.mean(top[ins] == gold[ins])), 4),
            "in_scope_accuracy": round(float(np.mean(final[ins] == gold[ins])), 4),
            "oos_recall": round(float(np.mean(final[~ins] == OOS)), 4) if (~ins).any() else None,
            "train_seconds": round(seconds, 1), "examples": len(train)}


def compare(train, test, draws: int) -> dict:
    """Frozen vs fine-tuned on the full training rows and on 10 per intent (mean of ``draws``)."""
    out = {"full": {name: run(train, test, ft) for name, ft in (("frozen", False), ("fine_tuned", True))}}
    for name, ft in (("frozen", False), ("fine_tuned", True)):
        runs = [run(few_shot(train, 10, seed), test, ft) for seed in range(draws)]
        out.setdefault("10_per_intent", {})[name] = {k: round(float(np.mean([r[k] for r in runs])), 4)
                                                     for k in runs[0] if runs[0][k] is not None}
    return out


def stage_choose(draws: int) -> dict:
    domains = json.loads((CLINC / "domains.json").read_text())
    names = list(domains)
    out = {}
    for half, chosen in (("domains_1_5_used_for_choices", names[:5]), ("domains_6_10_checked_only", names[5:])):
        intents = {i for d in chosen for i in domains[d]}
        out[half] = {"domains": chosen, **compare(subset("train", intents), subset("val", intents), draws)}
    return out


def stage_test(draws: int) -> dict:
    return {"split": "CLINC150 test (4,500 in-scope + 1,000 OOS), reported once",
            **compare(subset("train", None), subset("test", None), draws)}


def latency(n: int = 300) -> dict:
    """Warm understand() per utterance with a fine-tuned flow-sized model and with the frozen one."""
    texts, labels = read_clinc("val")
    examples: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        if label != OOS and len(examples.get(label, [])) < 10 and (label in examples or len(examples) < 10):
            examples.setdefault(label, []).append(text)
    out = {}
    for name, ft in (("fine_tuned", True), ("frozen", False)):
        und = Understander.from_examples(examples, fine_tune=ft)
        queries = [t for t in texts[:n]]
        for t in queries[:20]:
            und.understand(t)
        out[name] = {"n": n, "wall": p50_p95(time_each_ms(und.understand, queries)),
                     "cpu": p50_p95(cpu_each_ms(und.understand, queries))}
    return out


def cpu_each_ms(fn, items) -> list[float]:
    """CPU milliseconds of this process per ``fn(item)``: the cost itself, without the time spent
    waiting for a core that other jobs hold (on one thread, wall = cpu on an idle machine)."""
    times = []
    for item in items:
        start = time.process_time()
        fn(item)
        times.append((time.process_time() - start) * 1000)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=("choose", "test"), help="which comparison to run")
    parser.add_argument("--draws", type=int, default=1, help="random draws of 10 per intent to average")
    parser.add_argument("--latency", action="store_true", help="time warm understand() calls")
    args = parser.parse_args()
    report = {}
    if args.stage == "choose":
        report["choose"] = stage_choose(args.draws)
    elif args.stage == "test":
        report["test"] = stage_test(args.draws)
    if args.latency:
        report["latency_ms"] = latency()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
