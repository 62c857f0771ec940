"""The retraining gate's pieces without the encoder: the held-back split, the examples a
candidate trains on, the gate's verdict from two models' predictions, and the two-intent intent
head (a flow with exactly two intents used to answer its first intent for everything)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from voicebot.errors import NLUError
from voicebot.nlu import retrain
from voicebot.nlu.intents import IntentClassifier


def test_two_intents_give_two_probabilities_and_both_intents_are_predicted():
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:2]
    X = np.vstack([centres[i] + 0.05 * rng.standard_normal((10, 8)) for i in (0, 1)])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    head = IntentClassifier.fit(X, ["billing"] * 10 + ["hours"] * 10, calibrate=False)
    probs = head.probabilities(np.vstack(centres))
    assert probs.shape == (2, 2) and probs[0, 0] > 0.5 and probs[1, 1] > 0.5
    assert [p.intent for p in head.predict_many(np.vstack(centres))] == ["billing", "hours"]


def test_held_back_is_stable_and_ignores_case_and_spacing():
    texts = [f"utterance number {i}" for i in range(300)]
    held = [t for t in texts if retrain.held_back(t)]
    assert 70 < len(held) < 130  # about one in three
    assert all(retrain.held_back(t.upper().replace(" ", "  ")) for t in held)


def test_training_examples_add_only_labels_not_held_back():
    labels = [(t, "billing") for t in ("a", "b", "c", "d", "e", "f")]
    merged = retrain.training_examples({"billing": ["my bill"], "hours": ["opening hours"]}, labels)
    kept = [t for t, _ in labels if not retrain.held_back(t)]
    assert merged == {"billing": ["my bill", *kept], "hours": ["opening hours"]}
    texts, gold = retrain.held_back_set(labels)
    assert sorted(texts + kept) == ["a", "b", "c", "d", "e", "f"] and set(gold) <= {"billing"}
    assert retrain.data_hash(merged) == retrain.data_hash({"hours": ["opening hours"], "billing": list(reversed(merged["billing"]))})


class _Fixed:
    """A stand-in model answering from a table (the gate only needs predictions)."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    def predict_intents(self, texts):
        return [SimpleNamespace(intent=self.answers[t]) for t in texts]


def test_gate_passes_equal_or_better_and_refuses_worse_with_reasons():
    texts, gold = ["x", "y", "z"], ["billing", "hours", "hours"]
    right = _Fixed({"x": "billing", "y": "hours", "z": "hours"})
    half = _Fixed({"x": "billing", "y": "hours", "z": "oos"})
    blind = _Fixed({"x": "hours", "y": "hours", "z": "hours"})
    assert retrain.compare(right, right, texts, gold)["passed"] is True
    better = retrain.compare(half, right, texts, gold)
    assert better["passed"] and better["reason"].startswith("not worse: accuracy 0.667 -> 1.000")
    worse = retrain.compare(right, blind, texts, gold)
    assert worse["passed"] is False
    assert worse["reason"] == ("refused: accuracy fell from 1.000 to 0.667; macro-F1 fell from 1.000 to 0.400; "
                               "no longer recognises billing on 3 held-back utterances")
    assert worse["per_intent"] == [{"intent": "billing", "support": 1, "active_f1": 1.0, "candidate_f1": 0.0},
                                   {"intent": "hours", "support": 2, "active_f1": 1.0, "candidate_f1": 0.8}]
    with pytest.raises(NLUError, match="held-back test set has 1"):
        retrain.compare(right, right, ["x"], ["billing"])


def test_the_live_model_is_the_active_version_only_when_it_knows_the_flows_intents(tmp_path):
    from admin_helpers import FLOW

    from voicebot.flows.loader import load_flow_text
    from voicebot.session.intent_models import active_model_dir, load_for_flow
    from voicebot.storage import learning
    from voicebot.storage.db import Database

    flow = load_flow_text(FLOW, str(tmp_path / "tiny.yaml"))
    model = retrain.train_candidate(retrain.training_examples(flow.intents, [("I paid twice", "billing")]))
    model.save(tmp_path / "v1")
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.create_all()
    assert active_model_dir(db) is None and active_model_dir(None) is None
    version = learning.add_model_version(db, str(tmp_path / "v1"), "0" * 64, {}, "test")
    assert active_model_dir(db) is None  # kept, not active
    learning.activate(db, version)
    assert active_model_dir(db) == str(tmp_path / "v1")
    loaded = load_for_flow(str(tmp_path / "v1"), flow)
    assert loaded is not None and loaded.understand("why is my bill so high").intent == "billing"
    grown = load_flow_text(FLOW.replace("intents:\n", "intents:\n  returns: [return an item, send it back]\n"), "x.yaml")
    assert load_for_flow(str(tmp_path / "v1"), grown) is None  # the flow has an intent the model lacks
    assert load_for_flow(str(tmp_path / "missing"), flow) is None
