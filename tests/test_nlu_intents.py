"""Intent head: training from a flow's phrases, out-of-scope rejection, save/load, CLINC150
few-shot on a small subset (the full benchmark is benchmarks/nlu_intents.py)."""
import csv
from pathlib import Path

import numpy as np
import pytest

from voicebot.errors import NLUError
from voicebot.nlu.intents import IntentClassifier
from voicebot.nlu.training_data import read_intent_csv, score
from voicebot.nlu.understander import Understander
from voicebot.testing.datasets import shared_datasets_dir

CLINC = shared_datasets_dir() / "intents_clinc150"

RETAIL = {
    "order_status": ["where is my order", "order status", "track my package", "has my order shipped",
                     "when will my order arrive", "I want to check on an order", "my delivery has not come"],
    "billing": ["billing", "I have a question about my bill", "why was I charged twice", "a charge on my card",
                "payment question", "refund for a charge"],
    "returns": ["returns", "I want to return something", "what is your return policy", "how do I send an item back",
                "can I exchange this"],
    "store_hours": ["store hours", "what time do you open", "when do you close", "are you open today", "opening hours"],
    "agent": ["agent", "representative", "talk to a person", "speak to a human", "operator", "customer service please"],
}


@pytest.fixture(scope="module")
def retail():
    return Understander.from_examples(RETAIL)


@pytest.mark.parametrize("text, intent", [
    ("my package never arrived", "order_status"),
    ("I got billed two times for the same thing", "billing"),
    ("I'd like to send these shoes back", "returns"),
    ("are you open on sunday", "store_hours"),
    ("let me talk to somebody", "agent"),
    ("GET ME A REAL PERSON NOW!!", "agent"),   # far from the phrasing, but an explicit request
])
def test_paraphrases_route_to_the_right_intent(retail, text, intent):
    assert retail.understand(text).intent == intent


@pytest.mark.parametrize("text", [
    "what's the weather like tomorrow", "tell me a joke", "what is the capital of france",
    "", "   ", "...", "asdf qwerty zxcv", "¿dónde está la biblioteca?",
])
def test_out_of_scope_and_junk_are_rejected(retail, text):
    u = retail.understand(text)
    assert u.intent == "oos"


def test_very_long_text_is_truncated_not_rejected(retail):
    u = retail.understand("where is my order " * 500)
    assert u.intent == "order_status" and len(u.text) <= 1000


def test_scores_are_probabilities(retail):
    u = retail.understand("where is my order")
    assert set(u.intent_scores) == set(RETAIL)
    assert abs(sum(u.intent_scores.values()) - 1) < 1e-3
    assert u.confidence == max(u.intent_scores.values())


def test_save_and_load_give_the_same_answers(retail, tmp_path):
    retail.save(tmp_path / "model", metrics={"note": "test"})
    loaded = Understander.load(tmp_path / "model")
    manifest = (tmp_path / "model" / "manifest.json").read_text()
    assert '"data_sha256"' in manifest and '"metrics"' in manifest
    for text in ["where is my order", "tell me a joke", "get me a real person", "can I exchange this"]:
        a, b = retail.understand(text), loaded.understand(text)
        assert a.intent == b.intent and abs(a.confidence - b.confidence) < 1e-3


def test_needs_two_intents():
    with pytest.raises(NLUError):
        Understander.from_examples({"only": ["one", "two"]})


def test_clinc_few_shot_subset():
    """10 examples for each of 15 CLINC intents; test on their held-out test queries + OOS."""
    def read(split):
        with open(CLINC / f"{split}.csv", newline="") as fh:
            return [(r["text"], r["label"]) for r in csv.DictReader(fh)]
    intents = sorted({l for _, l in read("val") if l != "oos"})[::10]  # 15 intents, spread over domains
    train = [(t, l) for t, l in read("train") if l in intents]
    picked = [row for label in intents for row in [r for r in train if r[1] == label][:10]]
    test = [(t, l) for t, l in read("test") if l in intents] + [(t, l) for t, l in read("test") if l == "oos"][:150]
    und = Understander.from_examples({l: [t for t, lab in picked if lab == l] for l in intents})
    predictions = und.predict_intents([t for t, _ in test])
    gold = [l for _, l in test]
    pred = [p.intent for p in predictions]
    result = score(gold, pred)
    raw = [max(p.scores, key=p.scores.get) for p in predictions]
    in_scope = [(g, r) for g, r in zip(gold, raw) if g != "oos"]
    # Rejection trades in-scope accuracy for OOS recall (benchmark: 0.91 -> 0.85 for 0.83 recall).
    assert np.mean([g == r for g, r in in_scope]) >= 0.85
    assert result["in_scope_accuracy"] >= 0.78
    assert result["oos_recall"] >= 0.6


def test_confused_pairs_count_both_directions():
    from voicebot.nlu.training_data import confused_pairs

    gold = ["a", "a", "b", "b", "c", "oos", "c"]
    pred = ["b", "a", "a", "a", "oos", "c", "c"]
    pairs = confused_pairs(gold, pred)
    assert pairs == [{"a": "a", "b": "b", "count": 3, "a_as_b": 1, "b_as_a": 2}]  # OOS mix-ups are not pairs
    summary = score(gold, pred)["confusion_summary"]
    assert summary == {"correct": 2, "wrong_intent": 3, "rejected_in_scope": 1, "accepted_oos": 1}


def test_calibration_with_oos_examples_rejects_more_than_without():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    X = np.vstack([c + 0.3 * rng.normal(size=(20, 16)) for c in centres])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = [l for l in "abc" for _ in range(20)]
    oos = rng.normal(size=(30, 16))
    oos /= np.linalg.norm(oos, axis=1, keepdims=True)
    head = IntentClassifier.fit(np.vstack([X, oos]), y + ["oos"] * 30)
    rejected = sum(p.intent == "oos" for p in head.predict_many(oos))
    kept = sum(p.intent == l for p, l in zip(head.predict_many(X), y))
    assert rejected >= 20 and kept >= 50


def test_training_csv_errors_name_the_rows(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhi,greet\nhello,greet\nbye,\n")
    with pytest.raises(NLUError, match=r"empty label in row\(s\) 4"):
        read_intent_csv(bad)
    bad.write_text("text,label\nhi,greet\nhello,greet\nbye,farewell\n")
    with pytest.raises(NLUError, match=r"'farewell' \(row 4\)"):
        read_intent_csv(bad)
    bad.write_text("utterance,intent\nhi,greet\n")
    with pytest.raises(NLUError, match="missing column"):
        read_intent_csv(bad)
    with pytest.raises(NLUError, match="cannot read"):
        read_intent_csv(tmp_path / "missing.csv")
