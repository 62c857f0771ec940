"""Emotion in what the caller says: trained heads on the encoder's layer outputs, plus cues.

Labels a call center acts on: ``neutral``, ``satisfied``, ``frustrated`` (angry, annoyed),
``anxious`` (sad, worried), ``confused``. The heads read the mean-pooled outputs of the
encoder's four shared layers and the sentence vector (5 x 384 features, all computed anyway
for the turn): the middle layers carry more of the tone than the last one (frustrated vs
neutral ROC-AUC on half of GoEmotions dev: sentence vector 0.81, layer 4 alone 0.84, all
five 0.85). A multinomial logistic regression gives the label; a second, binary one
(frustrated vs neutral) gives P(frustrated). Both are trained on GoEmotions train
(human-labelled Reddit comments; see ``GOEMOTIONS_MAP``) and shipped in
``models/nlu/text_emotion.npz`` so runtime never retrains. Cues the heads cannot see well are
added on top: an explicit request for a human, profanity, shouting. ``frustration`` in [0, 1]
combines P(frustrated) with those cues.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicebot.errors import ModelNotFoundError, NLUError

LABELS = ("neutral", "satisfied", "frustrated", "anxious", "confused")
GOEMOTIONS_MAP = {
    "neutral": "neutral",
    "anger": "frustrated", "annoyance": "frustrated", "disappointment": "frustrated",
    "disapproval": "frustrated", "disgust": "frustrated",
    "gratitude": "satisfied", "approval": "satisfied", "joy": "satisfied", "admiration": "satisfied",
    "relief": "satisfied", "optimism": "satisfied", "love": "satisfied", "excitement": "satisfied",
    "sadness": "anxious", "fear": "anxious", "nervousness": "anxious", "grief": "anxious", "remorse": "anxious",
    "confusion": "confused",
}
DEFAULT_HEAD = Path(__file__).resolve().parents[3] / "models" / "nlu" / "text_emotion.npz"

HUMAN_REQUEST = re.compile(
    r"\b(?:(?:speak|talk|get|give|put|connect|transfer)\b.{0,25}\b(?:human|person|agent|representative|rep|operator|someone|somebody|manager|supervisor)"
    r"|(?:real|live|actual) (?:person|human|agent)|representative|operator|customer service|agent please|human please)\b", re.I)
PROFANITY = re.compile(r"\b(?:fuck\w*|shit\w*|damn\w*|crap\w*|bullshit|hell|bloody|piss\w*|ass|asshole|bastard|wtf|screw (?:this|you|it))\b", re.I)
CUE_WEIGHTS = {"human_request": 0.35, "profanity": 0.45, "shouting": 0.2}


@dataclass(frozen=True)
class TextEmotionResult:
    label: str
    scores: dict[str, float]
    frustration: float  # P(frustrated) raised by cues, in [0, 1]
    cues: tuple[str, ...] = field(default_factory=tuple)


def text_cues(text: str) -> tuple[str, ...]:
    """Frustration cues present in ``text``: human_request, profanity, shouting."""
    cues = []
    if HUMAN_REQUEST.search(text):
        cues.append("human_request")
    if PROFANITY.search(text):
        cues.append("profanity")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.8 or text.count("!") >= 2:
        cues.append("shouting")
    return tuple(cues)


class TextEmotion:
    """Classifies an utterance (given its MiniLM embedding) into ``LABELS`` with a frustration score."""

    def __init__(self, coef: np.ndarray | None, intercept: np.ndarray | None, labels=LABELS,
                 frustration: tuple[np.ndarray, np.ndarray] | None = None):
        """``coef`` None: no trained head, only cues (every text is neutral unless a cue fires).
        ``frustration``: (coef, intercept) of the binary frustrated-vs-neutral head, if any
        (without it P(frustrated) is the label head's)."""
        self.frustration_head = None if frustration is None else tuple(np.asarray(a, dtype=np.float32) for a in frustration)
        self.coef = None if coef is None else np.asarray(coef, dtype=np.float32)
        self.intercept = None if intercept is None else np.asarray(intercept, dtype=np.float32)
        self.labels = tuple(labels)

    @classmethod
    def load(cls, path: str | Path) -> "TextEmotion":
        try:
            arrays = np.load(path)
        except OSError as exc:
            raise ModelNotFoundError(f"no text-emotion head at {path}; train it with `python benchmarks/emotion_text.py --train`") from exc
        frustration = (arrays["frustration_coef"], arrays["frustration_intercept"]) if "frustration_coef" in arrays else None
        return cls(arrays["coef"], arrays["intercept"], [str(l) for l in arrays["labels"]], frustration)

    @classmethod
    def load_default(cls, required: bool = True) -> "TextEmotion":
        """The shipped head (``models/nlu/text_emotion.npz``); cues only if absent and not ``required``."""
        if not DEFAULT_HEAD.exists() and not required:
            return cls(None, None)
        return cls.load(DEFAULT_HEAD)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {} if self.frustration_head is None else {"frustration_coef": self.frustration_head[0],
                                                          "frustration_intercept": self.frustration_head[1]}
        np.savez_compressed(path, coef=self.coef, intercept=self.intercept, labels=np.array(self.labels), **extra)
        return path

    @classmethod
    def fit(cls, embeddings: np.ndarray, labels: list[str], C: float = 1.0, frustrated_vs_neutral: bool = True) -> "TextEmotion":
        """Train the heads on features (``features()``) labelled with ``LABELS``; the binary
        head on the rows labelled frustrated or neutral (no class weights).

        Classes are weighted by sqrt(n / count): fully balanced weights made rare labels
        (confused) swallow plain complaints; no weighting never says anxious/confused.
        On GoEmotions dev this scored macro-F1 0.553 vs 0.510 (balanced) and 0.517 (none).
        """
        from sklearn.linear_model import LogisticRegression

        unknown = sorted(set(labels) - set(LABELS))
        if unknown:
            raise NLUError(f"unknown emotion labels {unknown}; expected {list(LABELS)}")
        missing = [l for l in LABELS if l not in labels]
        if missing:
            raise NLUError(f"no training examples for emotion label(s) {missing}")
        weights = {l: (len(labels) / labels.count(l)) ** 0.5 for l in LABELS}
        lr = LogisticRegression(C=C, max_iter=3000, class_weight=weights)
        lr.fit(embeddings, labels)
        order = [list(lr.classes_).index(l) for l in LABELS]
        frustration = None
        if frustrated_vs_neutral:
            pair = np.isin(np.asarray(labels, dtype=object), ["frustrated", "neutral"])
            binary = LogisticRegression(C=C, max_iter=3000).fit(embeddings[pair], np.asarray(labels, dtype=object)[pair] == "frustrated")
            frustration = (binary.coef_, binary.intercept_)
        return cls(lr.coef_[order], lr.intercept_[order], frustration=frustration)

    @staticmethod
    def features(layer_means: np.ndarray, sentence: np.ndarray) -> np.ndarray:
        """The heads' input: unit-length shared-layer means (..., 4, 384) and sentence vectors
        (..., 384) side by side -> (..., 1920)."""
        both = np.concatenate([layer_means, sentence[..., None, :]], axis=-2)
        return both.reshape(*both.shape[:-2], -1)

    def p_frustrated(self, features: np.ndarray) -> np.ndarray:
        """P(frustrated) per row: the binary head's, else the label head's."""
        if self.frustration_head is None:
            return self.probabilities(features)[:, self.labels.index("frustrated")]
        logit = np.atleast_2d(features) @ self.frustration_head[0].T + self.frustration_head[1]
        return 1.0 / (1.0 + np.exp(-logit[:, 0]))

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, len(labels)) softmax probabilities."""
        if self.coef is None:
            p = np.zeros((len(np.atleast_2d(embeddings)), len(self.labels)), dtype=np.float32)
            p[:, self.labels.index("neutral")] = 1.0
            return p
        logits = np.atleast_2d(embeddings) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def classify(self, text: str, features: np.ndarray) -> TextEmotionResult:
        """Label, per-label probabilities, and frustration (heads + cues) for one utterance
        (``features``: see ``features()``)."""
        probs = self.probabilities(features)[0]
        scores = {label: float(p) for label, p in zip(self.labels, probs)}
        cues = text_cues(text)
        frustration = combine_frustration(float(self.p_frustrated(features)[0]) if self.coef is not None else 0.0, cues)
        label = max(scores, key=scores.get)
        if frustration >= 0.5 and label != "frustrated" and cues:
            label = "frustrated"
        return TextEmotionResult(label, scores, frustration, cues)


def combine_frustration(p_frustrated: float, cues: tuple[str, ...]) -> float:
    """1 - (1 - p) * prod(1 - weight of each cue): each cue independently raises frustration."""
    keep = 1.0 - p_frustrated
    for cue in cues:
        keep *= 1.0 - CUE_WEIGHTS.get(cue, 0.0)
    return float(min(max(1.0 - keep, 0.0), 1.0))


def write_head_manifest(path: Path, info: dict) -> None:
    """Merge ``info`` into models/nlu/manifest.json under the key ``text_emotion``."""
    manifest_path = path.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest["text_emotion"] = info
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
