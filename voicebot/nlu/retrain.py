"""Retraining the intent model from reviewers' labels, behind an evaluation gate.

- ``held_back(text)``: whether a labelled utterance belongs to the held-back test set. Decided by
  a hash of its normalised words, so an utterance stays on its side for ever and every version
  is measured on the same kind of data it never trained on (about one in ``TEST_EVERY``).
- ``training_examples``: the flow's example phrases plus the training-side labels.
- ``train_candidate``: the fast path (frozen MiniLM encoder + logistic head, seconds).
- ``compare``: both models on the held-back set, per intent, and the gate's verdict: the
  candidate is activated only when it is not worse: its accuracy and macro-F1 are at least the
  active model's (``TOLERANCE``), and no intent the active model got right at least once drops
  to F1 0. The verdict says why in a sentence.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

from voicebot.errors import NLUError
from voicebot.nlu.intents import OOS
from voicebot.nlu.training_data import score

TEST_EVERY = 3
TOLERANCE = 0.0
MIN_TEST_EXAMPLES = 2


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def held_back(text: str) -> bool:
    """True when ``text`` belongs to the held-back test set (stable: a hash of its words)."""
    return int(hashlib.sha256(_normal(text).encode()).hexdigest(), 16) % TEST_EVERY == 0


def training_examples(flow_examples: dict[str, list[str]], labels: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """The flow's phrases plus every (text, intent) label not held back, as ``{intent: [phrases]}``."""
    merged = {intent: list(phrases) for intent, phrases in flow_examples.items()}
    for text, intent in labels:
        if not held_back(text) and text.strip() not in merged.setdefault(intent, []):
            merged[intent].append(text.strip())
    return merged


def held_back_set(labels: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The held-back labels as (texts, gold intents)."""
    pairs = [(t.strip(), i) for t, i in labels if held_back(t)]
    return [t for t, _ in pairs], [i for _, i in pairs]


def data_hash(examples: dict[str, list[str]]) -> str:
    digest = hashlib.sha256()
    for intent in sorted(examples):
        for phrase in sorted(examples[intent]):
            digest.update(f"{intent}\t{phrase}\n".encode())
    return digest.hexdigest()


def train_candidate(examples: dict[str, list[str]]):
    """An ``Understander`` on ``examples`` with the frozen encoder (seconds, no fine-tuning)."""
    from voicebot.nlu.understander import Understander

    return Understander.from_examples(examples, fine_tune=False)


def evaluate(understander, texts: list[str], gold: list[str]) -> dict:
    predictions = [p.intent if p.intent != OOS else OOS for p in understander.predict_intents(texts)]
    return score(gold, predictions, OOS)


def compare(active, candidate, texts: list[str], gold: list[str]) -> dict:
    """Both models on the held-back set: ``{active, candidate, per_intent, passed, reason}``."""
    if len(texts) < MIN_TEST_EXAMPLES:
        raise NLUError(f"the held-back test set has {len(texts)} labelled utterance(s); label at least "
                       f"{MIN_TEST_EXAMPLES} held-back ones (about one label in {TEST_EVERY} is held back) and retrain")
    old, new = evaluate(active, texts, gold), evaluate(candidate, texts, gold)
    per_intent = [{"intent": label, "support": old["per_label"].get(label, {}).get("support", 0),
                   "active_f1": old["per_label"].get(label, {}).get("f1", 0.0),
                   "candidate_f1": new["per_label"].get(label, {}).get("f1", 0.0)}
                  for label in sorted(set(old["per_label"]) | set(new["per_label"])) if label in set(gold)]
    lost = [row["intent"] for row in per_intent if row["active_f1"] > 0 and row["candidate_f1"] == 0]
    reasons = []
    if new["accuracy"] + TOLERANCE < old["accuracy"]:
        reasons.append(f"accuracy fell from {old['accuracy']:.3f} to {new['accuracy']:.3f}")
    if new["macro_f1"] + TOLERANCE < old["macro_f1"]:
        reasons.append(f"macro-F1 fell from {old['macro_f1']:.3f} to {new['macro_f1']:.3f}")
    if lost:
        reasons.append(f"no longer recognises {', '.join(lost)}")
    passed = not reasons
    reason = (f"not worse: accuracy {old['accuracy']:.3f} -> {new['accuracy']:.3f}, macro-F1 "
              f"{old['macro_f1']:.3f} -> {new['macro_f1']:.3f} on {len(texts)} held-back utterances"
              if passed else "refused: " + "; ".join(reasons) + f" on {len(texts)} held-back utterances")
    return {"active": _brief(old), "candidate": _brief(new), "per_intent": per_intent, "passed": passed,
            "reason": reason, "test_examples": len(texts)}


def _brief(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("n", "accuracy", "macro_f1", "in_scope_accuracy")}
