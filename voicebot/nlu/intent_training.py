"""Training an intent model: fine-tune the encoder's top layers on the examples, then fit the
intent head (``IntentClassifier``) on the fine-tuned sentence vectors.

The recipe (chosen on CLINC150 train/validation, five domains used for choices and five kept
to check; docs/nlu.md): the shared layers' outputs are computed once, the top two layers are
trained with a cosine-softmax objective for 3 epochs (at least 150 steps), and the logistic
head and its out-of-scope thresholds are fitted on the result. ``fine_tune=False`` is the
frozen-encoder path (seconds instead of minutes; a few points less accurate).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from voicebot.errors import NLUError
from voicebot.nlu.branch import EncoderBranch, branch_vectors, fine_tune
from voicebot.nlu.embeddings import MODEL_NAME, get_embedder
from voicebot.nlu.intents import OOS, IntentClassifier

RECIPE = "top2-cosine-ce-lr2e-4-v1"  # part of the cache key: change it when the recipe changes

# progress(stage, done, total): stage is "encoding" or "fine-tuning"
Progress = Callable[[str, int, int], None]


@dataclass
class IntentModel:
    head: IntentClassifier        # rejection on pre-trained vectors; intent on fine-tuned ones when branch is set
    branch: EncoderBranch | None  # None: the pre-trained encoder (frozen path)


def training_key(texts: Sequence[str], labels: Sequence[str], fine_tuned: bool) -> str:
    """A hash of the examples and the recipe: the name of a cached model."""
    digest = hashlib.sha256(f"{MODEL_NAME}|{RECIPE if fine_tuned else 'frozen'}".encode())
    for text, label in zip(texts, labels):
        digest.update(f"\n{text}\t{label}".encode())
    return digest.hexdigest()[:20]


def train_intent_model(texts: Sequence[str], labels: Sequence[str], oos_label: str = OOS,
                       fine_tune_encoder: bool = True, progress: Progress | None = None) -> IntentModel:
    """Fit an intent model on (text, label) examples; rows labelled ``oos_label`` only calibrate
    out-of-scope rejection. Needs >= 2 in-scope intents."""
    labels_arr = np.asarray(labels, dtype=object)
    in_scope = labels_arr != oos_label
    classes = sorted(set(labels_arr[in_scope]))
    if len(classes) < 2:
        raise NLUError(f"need at least 2 intents to train, found {len(classes)}: {classes}")
    embedder = get_embedder()
    done = [0]

    def encoded(n: int) -> None:
        done[0] += n
        if progress:
            progress("encoding", done[0], len(texts))

    states = embedder.shared_states(list(texts), progress=encoded)
    branch = None
    if fine_tune_encoder:
        keep = np.flatnonzero(in_scope)
        y = np.array([classes.index(label) for label in labels_arr[keep]])
        branch = fine_tune(embedder, [states[i] for i in keep], y,
                           progress=(lambda d, t: progress("fine-tuning", d, t)) if progress else None)
    vectors = branch_vectors(EncoderBranch.original(embedder), states)
    refined = branch_vectors(branch, states) if branch is not None else None
    return IntentModel(IntentClassifier.fit(vectors, list(labels), oos_label=oos_label, refined=refined), branch)
