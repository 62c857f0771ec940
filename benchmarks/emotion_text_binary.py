"""Can a dedicated frustrated-vs-neutral head beat the shipped 5-label text-emotion head?

An experiment (nothing here is shipped). Choices were made on a validation slice of GoEmotions
train (5,000 comments, seed 0); GoEmotions dev (held out) is reported once per configuration:
  multiclass        the shipped head's P(frustrated) (voicebot/nlu/emotion/text.py)
  binary            logistic regression, frustrated vs neutral only, on the MiniLM embedding
  binary+tfidf      the same on [embedding, TF-IDF word 1-2 grams] (vocabulary from train)
"frustrated" is the shipped definition (anger, annoyance, disappointment, disapproval, disgust);
"narrow" keeps anger, annoyance and disgust (disappointment and disapproval are about hopes and
opinions, often without irritation). A comment counts when all its labels are frustration-like,
or it is only neutral.

    OMP_NUM_THREADS=1 python benchmarks/emotion_text_binary.py     (~15 s with cached embeddings)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlu_datasets import CACHE, read_goemotions  # noqa: E402

from voicebot.nlu.embeddings import embed_cached  # noqa: E402
from voicebot.nlu.emotion.text import GOEMOTIONS_MAP, TextEmotion  # noqa: E402

DEFINITIONS = {"frustrated": {"anger", "annoyance", "disappointment", "disapproval", "disgust"},
               "narrow": {"anger", "annoyance", "disgust"}}


def target(labels: list[str], frustrated: set[str]):
    """1 frustrated, 0 neutral, None for anything else."""
    s = set(labels)
    return 1 if s <= frustrated else 0 if s == {"neutral"} else None


def pairs(texts, raw, emb, ids, frustrated):
    keep = [i for i in ids if target(raw[i], frustrated) is not None]
    return [texts[i] for i in keep], emb[keep], np.array([target(raw[i], frustrated) for i in keep])


def aucs(train, test, vectorizer, multiclass) -> dict:
    (t_text, t_emb, t_y), (v_text, v_emb, v_y) = train, test
    binary = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced").fit(t_emb, t_y)
    joined = lambda text, emb: hstack([csr_matrix(emb), vectorizer.transform(text)]).tocsr()  # noqa: E731
    both = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit(joined(t_text, t_emb), t_y)
    return {"multiclass": round(float(roc_auc_score(v_y, multiclass.probabilities(v_emb)[:, multiclass.labels.index("frustrated")])), 3),
            "binary": round(float(roc_auc_score(v_y, binary.predict_proba(v_emb)[:, 1])), 3),
            "binary+tfidf": round(float(roc_auc_score(v_y, both.predict_proba(joined(v_text, v_emb))[:, 1])), 3),
            "n": int(len(v_y))}


def main():
    texts, raw = read_goemotions("train")
    emb = embed_cached(texts, CACHE)
    d_texts, d_raw = read_goemotions("dev")
    d_emb = embed_cached(d_texts, CACHE)
    order = np.random.default_rng(0).permutation(len(texts))
    val_ids, fit_ids, all_ids = order[:5000], order[5000:], np.arange(len(texts))
    mapped = []
    for ls in raw:
        m = {GOEMOTIONS_MAP.get(x) for x in ls} - {None}
        mapped.append(m.pop() if len(m) == 1 else None)
    report = {}
    for split, train_ids, test in (("validation (train slice)", fit_ids, None), ("dev (held out)", all_ids, "dev")):
        keep = [i for i in train_ids if mapped[i] is not None]
        multiclass = TextEmotion.fit(emb[keep], [mapped[i] for i in keep])  # the shipped recipe
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit([texts[i] for i in train_ids])
        for name, frustrated in DEFINITIONS.items():
            train = pairs(texts, raw, emb, train_ids, frustrated)
            held = pairs(d_texts, d_raw, d_emb, range(len(d_texts)), frustrated) if test else pairs(texts, raw, emb, val_ids, frustrated)
            report[f"{split} / {name}"] = aucs(train, held, vectorizer, multiclass)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
