"""Intent classification: a logistic-regression head on sentence embeddings, with
out-of-scope (OOS) detection.

A text is out of scope when the head's top probability is below ``prob_threshold`` or its
embedding is less similar than ``sim_threshold`` (cosine) to every training example of the
predicted intent. Both thresholds are calibrated at training time: on out-of-fold scores of
labelled OOS examples when the data has them, else from how similar the training examples
of each intent are to one another (so 5-10 phrases per intent is enough; fewer than
``MIN_OOS_EXAMPLES`` OOS examples are ignored for calibration).

With a fine-tuned encoder branch (``voicebot.nlu.intent_training``) there is a second
logistic head on the fine-tuned vectors (``refined``): it names the intent and its
probability, while rejection stays with the head on the pre-trained vectors. The fine-tuned
encoder has seen every training example, so similarities and probabilities measured on them
are flattering and thresholds calibrated on them would reject fresh in-scope queries; the
pre-trained vectors keep the calibration honest.

The head is tiny (weight matrices plus the training embeddings in float16), saved as
``intents.npz`` + ``intents.json`` in a model directory; no pickles.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from voicebot.errors import NLUError

OOS = "oos"
DEFAULT_C = 10.0  # inverse regularisation, chosen on CLINC150 val (docs/nlu.md)
MIN_OOS_EXAMPLES = 20  # fewer labelled OOS examples overfit the threshold search: use the examples alone
SIBLING_PERCENTILE = 10  # without OOS examples: reject below this percentile of nearest-sibling similarity


@dataclass(frozen=True)
class IntentPrediction:
    """The best intent (``"oos"`` when out of scope), its probability and every intent's probability."""

    intent: str
    confidence: float
    scores: dict[str, float]
    similarity: float  # cosine similarity to the nearest training example of the top intent


class IntentClassifier:
    """Trained intent head; build with ``fit`` or ``load``, use with ``predict``."""

    def __init__(self, classes, coef, intercept, examples, example_labels,
                 prob_threshold: float, sim_threshold: float, metadata: dict | None = None, refined=None):
        self.classes = list(classes)
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.examples = np.asarray(examples, dtype=np.float32)
        self.example_labels = np.asarray(example_labels, dtype=np.int32)
        self.prob_threshold = float(prob_threshold)
        self.sim_threshold = float(sim_threshold)
        self.metadata = dict(metadata or {})
        # (coef, intercept) of the head on fine-tuned vectors, or None
        self.refined = None if refined is None else tuple(np.asarray(a, dtype=np.float32) for a in refined)

    # ---- training -------------------------------------------------------------------------
    @classmethod
    def fit(cls, embeddings: np.ndarray, labels: Sequence[str], oos_label: str = OOS,
            C: float = DEFAULT_C, calibrate: bool = True, refined: np.ndarray | None = None) -> "IntentClassifier":
        """Train on unit-length (pre-trained) ``embeddings`` with ``labels``; rows labelled
        ``oos_label`` are used only to calibrate the OOS thresholds. ``refined``: the same rows'
        fine-tuned vectors, for the head that names the intent. Needs >= 2 in-scope intents."""
        labels = np.asarray(labels, dtype=object)
        in_scope = labels != oos_label
        classes = sorted(set(labels[in_scope]))
        if len(classes) < 2:
            raise NLUError(f"need at least 2 intents to train, found {len(classes)}: {classes}")
        X, y = embeddings[in_scope], np.array([classes.index(l) for l in labels[in_scope]])
        coef, intercept = _fit_lr(X, y, C)
        model = cls(classes, coef, intercept, X, y, prob_threshold=0.0, sim_threshold=0.0,
                    refined=None if refined is None else _fit_lr(refined[in_scope], y, C))
        if calibrate:
            oos_X = embeddings[~in_scope]
            if len(oos_X) >= MIN_OOS_EXAMPLES:
                model.prob_threshold, model.sim_threshold = _calibrate_with_oos(X, y, oos_X, C)
            else:
                model.prob_threshold, model.sim_threshold = _calibrate_without_oos(X, y, len(classes))
        return model

    # ---- prediction -----------------------------------------------------------------------
    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Softmax probabilities, shape (n, len(classes))."""
        return _softmax(embeddings @ self.coef.T + self.intercept)

    def nearest_similarity(self, embeddings: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
        """For each row, the highest cosine similarity to a training example of ``class_ids[row]``."""
        return _nearest_same_class(embeddings, np.asarray(class_ids), self.examples, self.example_labels)

    def scores(self, embeddings: np.ndarray, gold: np.ndarray | None = None):
        """(top probability, similarity to nearest example of the top intent, top == gold) per row."""
        probs = self.probabilities(embeddings)
        top = probs.argmax(axis=1)
        ok = top == gold if gold is not None else np.zeros(len(top), bool)
        return probs.max(axis=1), self.nearest_similarity(embeddings, top), ok

    def calibrate(self, embeddings: np.ndarray, labels: Sequence[str], oos_label: str = OOS) -> None:
        """Re-tune both thresholds on a labelled validation set that contains OOS examples."""
        labels = np.asarray(labels, dtype=object)
        oos = labels == oos_label
        if not oos.any() or oos.all():
            raise NLUError("calibration needs both in-scope and out-of-scope examples")
        gold = np.array([self.classes.index(l) if l in self.classes else -1 for l in labels[~oos]])
        p, s, ok = self.scores(embeddings[~oos], gold)
        op, osim, _ = self.scores(embeddings[oos])
        self.prob_threshold, self.sim_threshold = best_thresholds(p, s, ok, op, osim)

    def predict_many(self, embeddings: np.ndarray, refined: np.ndarray | None = None) -> list[IntentPrediction]:
        """Predictions for each row of (pre-trained) ``embeddings``; with a refined head, the
        intent and probabilities come from the rows' fine-tuned vectors ``refined``."""
        embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        probs = self.probabilities(embeddings)
        top = probs.argmax(axis=1)
        sims = self.nearest_similarity(embeddings, top)
        accepted = (probs.max(axis=1) >= self.prob_threshold) & (sims >= self.sim_threshold)
        if self.refined is not None:
            if refined is None:
                raise NLUError("this intent head was trained on a fine-tuned encoder: pass the fine-tuned vectors")
            probs = _softmax(np.atleast_2d(refined) @ self.refined[0].T + self.refined[1])
            top = probs.argmax(axis=1)
        out = []
        for row, k, sim, ok in zip(probs, top, sims, accepted):
            out.append(IntentPrediction(self.classes[k] if ok else OOS, float(row[k]),
                                        {c: float(p) for c, p in zip(self.classes, row)}, float(sim)))
        return out

    def predict(self, embedding: np.ndarray, refined: np.ndarray | None = None) -> IntentPrediction:
        return self.predict_many(embedding[None, :], None if refined is None else refined[None, :])[0]

    # ---- persistence ----------------------------------------------------------------------
    def save(self, model_dir: str | Path) -> Path:
        """Write ``intents.npz`` and ``intents.json`` into ``model_dir``."""
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        refined = {} if self.refined is None else {"refined_coef": self.refined[0], "refined_intercept": self.refined[1]}
        np.savez_compressed(model_dir / "intents.npz", coef=self.coef, intercept=self.intercept,
                            examples=self.examples.astype(np.float16), example_labels=self.example_labels, **refined)
        meta = {"classes": self.classes, "prob_threshold": self.prob_threshold,
                "sim_threshold": self.sim_threshold, **self.metadata}
        (model_dir / "intents.json").write_text(json.dumps(meta, indent=2) + "\n")
        return model_dir

    @classmethod
    def load(cls, model_dir: str | Path) -> "IntentClassifier":
        model_dir = Path(model_dir)
        try:
            meta = json.loads((model_dir / "intents.json").read_text())
            arrays = np.load(model_dir / "intents.npz")
        except (OSError, ValueError) as exc:
            raise NLUError(f"{model_dir}: not an intent model ({exc}); train one with `voicebot nlu train`") from exc
        extra = {k: v for k, v in meta.items() if k not in ("classes", "prob_threshold", "sim_threshold")}
        refined = (arrays["refined_coef"], arrays["refined_intercept"]) if "refined_coef" in arrays else None
        return cls(meta["classes"], arrays["coef"], arrays["intercept"], arrays["examples"],
                   arrays["example_labels"], meta["prob_threshold"], meta["sim_threshold"], extra, refined)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _fit_lr(X: np.ndarray, y: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=C, max_iter=2000)
    lr.fit(X, y)
    if lr.coef_.shape[0] == 1:  # two classes: sklearn fits one logit (for classes_[1]); softmax needs one per class
        return np.vstack([np.zeros_like(lr.coef_), lr.coef_]), np.concatenate([[0.0], lr.intercept_])
    return lr.coef_, lr.intercept_


def _calibrate_with_oos(X, y, oos_X, C, folds: int = 3) -> tuple[float, float]:
    """Thresholds from out-of-fold scores: in-scope rows scored by heads that did not see them,
    OOS rows by every fold's head."""
    rng = np.random.default_rng(0)
    fold_of = rng.integers(0, folds, size=len(y))
    in_prob, in_sim, in_ok = np.zeros(len(y)), np.zeros(len(y)), np.zeros(len(y), bool)
    oos_prob, oos_sim = [], []
    for f in range(folds):
        train, held = fold_of != f, fold_of == f
        if len(set(y[train])) < len(set(y)) or not held.any():
            continue  # too few examples to hold any out: keep defaults for those rows
        coef, icpt = _fit_lr(X[train], y[train], C)
        part = IntentClassifier(range(coef.shape[0]), coef, icpt, X[train], y[train], 0.0, 0.0)
        p, s, ok = part.scores(X[held], y[held])
        in_prob[held], in_sim[held], in_ok[held] = p, s, ok
        p, s, _ = part.scores(oos_X)
        oos_prob.append(p)
        oos_sim.append(s)
    if not oos_prob:
        return _calibrate_without_oos(X, y, len(set(y)))
    return best_thresholds(in_prob, in_sim, in_ok, np.concatenate(oos_prob), np.concatenate(oos_sim))


def best_thresholds(in_prob, in_sim, in_ok, oos_prob, oos_sim) -> tuple[float, float]:
    """(prob, sim) thresholds maximising the mean of in-scope accuracy and OOS recall."""
    best = (-1.0, 0.0, 0.0)
    for tp in np.linspace(0.0, 0.9, 46):
        for ts in np.linspace(0.0, 0.9, 46):
            acc = np.mean(in_ok & (in_prob >= tp) & (in_sim >= ts))
            recall = np.mean((oos_prob < tp) | (oos_sim < ts))
            if (acc + recall) / 2 > best[0]:
                best = ((acc + recall) / 2, tp, ts)
    return float(best[1]), float(best[2])


def _calibrate_without_oos(X, y, n_classes: int) -> tuple[float, float]:
    """No OOS examples: reject what is less like an intent than its own examples are to each other.

    The similarity threshold is a low percentile of each example's similarity to its nearest
    sibling, kept within [0.35, 0.55] (below 0.35 unrelated requests pass, above 0.55 fresh
    paraphrases are rejected; measured on CLINC150, see docs/nlu.md). The probability threshold
    rejects near-ties only.
    """
    nearest_sibling = _nearest_same_class(X, y, X, y, exclude_self=True)
    nearest_sibling = nearest_sibling[nearest_sibling > -1.0]
    sim_t = float(np.percentile(nearest_sibling, SIBLING_PERCENTILE)) if len(nearest_sibling) else 0.45
    sim_t = min(max(sim_t, 0.35), 0.55)
    prob_t = min(0.5, 1.5 / n_classes)
    return prob_t, sim_t


def _nearest_same_class(queries, query_labels, examples, example_labels, exclude_self=False, chunk=512):
    """Max cosine similarity of each query to an example with the same label (-1 if none).
    Chunked: a 15k x 15k similarity matrix would need ~1 GB."""
    out = np.full(len(queries), -1.0, dtype=np.float32)
    for start in range(0, len(queries), chunk):
        sims = queries[start:start + chunk] @ examples.T
        same = example_labels[None, :] == query_labels[start:start + chunk, None]
        if exclude_self:
            rows = np.arange(sims.shape[0])
            same[rows, start + rows] = False
        out[start:start + chunk] = np.where(same, sims, -1.0).max(axis=1)
    return out
