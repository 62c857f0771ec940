"""Readers for the shared NLU datasets (CLINC150 intents, GoEmotions text emotion) and a
cached embedding helper, used by the nlu/emotion benchmarks and by head training."""
from __future__ import annotations

import csv
from pathlib import Path
from voicebot.testing.datasets import shared_datasets_dir

DATASETS = shared_datasets_dir()
CLINC = DATASETS / "intents_clinc150"
GOEMOTIONS = DATASETS / "text_emotion" / "goemotions"
RAVDESS = DATASETS / "emotional_speech_ravdess"
CACHE = Path(__file__).resolve().parents[1] / "var" / "nlu-cache"


def read_clinc(split: str) -> tuple[list[str], list[str]]:
    """CLINC150 ``split`` (train/val/test) as (texts, labels); out-of-scope is labelled ``oos``."""
    with open(CLINC / f"{split}.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def read_goemotions(split: str) -> tuple[list[str], list[list[str]]]:
    """GoEmotions ``split`` (train/dev) as (texts, list of emotion names per text)."""
    names = (GOEMOTIONS / "emotions.txt").read_text().split()
    texts, labels = [], []
    with open(GOEMOTIONS / f"{split}.tsv", encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            texts.append(parts[0])
            labels.append([names[int(i)] for i in parts[1].split(",")])
    return texts, labels


def layer_features_cached(texts: list[str]):
    """``Embedder.layer_features`` of ``texts`` (n, 5, 384), cached as float16 under var/nlu-cache
    keyed by a hash of the texts (GoEmotions train takes ~10 min on an idle core)."""
    import hashlib

    import numpy as np

    from voicebot.nlu.embeddings import MODEL_NAME, get_embedder

    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"layers-{MODEL_NAME}-{digest}.npy"
    if path.exists():
        return np.load(path).astype(np.float32)
    features = get_embedder().layer_features(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, features.astype(np.float16))
    return features
