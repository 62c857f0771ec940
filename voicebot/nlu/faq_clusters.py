"""FAQ candidates: questions the bot could not answer, grouped by meaning.

``cluster_questions(texts, vectors)`` groups unit-length sentence vectors by average-linkage
agglomerative clustering on cosine distance (scikit-learn), cut at ``max_distance``; groups of at
least ``min_size`` become candidates, largest first, each with the question nearest its centre
as the representative and every member. Pure given the vectors (the console embeds with MiniLM).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

MAX_DISTANCE = 0.5
MIN_SIZE = 2


def cluster_questions(texts: Sequence[str], vectors: np.ndarray, max_distance: float = MAX_DISTANCE,
                      min_size: int = MIN_SIZE) -> list[dict]:
    """``[{representative, questions, size}]`` for groups of similar questions, largest first."""
    if len(texts) < max(2, min_size):
        return []
    from sklearn.cluster import AgglomerativeClustering

    vectors = np.asarray(vectors, dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=max_distance).fit_predict(vectors)
    groups = []
    for label in set(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < min_size:
            continue
        centre = vectors[members].mean(axis=0)
        best = members[int(np.argmax(vectors[members] @ centre))]
        groups.append({"representative": texts[best], "questions": [texts[i] for i in members], "size": len(members)})
    return sorted(groups, key=lambda g: (-g["size"], g["representative"]))
