"""FAQ answers for caller turns no flow intent took: ``answer_for(db, text, embedder)``.

The answers are the console's (``storage.faq``). They are read through a small cache per
database that is reloaded when ``storage.faq.revision`` changed, so an admin's edit is used
from the next caller turn on, on every channel, without a restart. A turn matches when its
cosine similarity to some question variant is at least ``THRESHOLD`` (MiniLM vectors, the
understander's encoder), or ``TFIDF_THRESHOLD`` with TF-IDF word vectors when there is no
encoder. The thresholds were chosen on held-out paraphrases of four FAQs and twelve unrelated
turns (``tests/test_faq_answers.py``): with MiniLM the nine paraphrases scored 0.53-0.85 and the
unrelated turns at most 0.40, hence 0.5; TF-IDF only sees shared words (5 of 9 paraphrases at
0.45 or more, unrelated turns at most 0.40), hence 0.45.
Thread-safe; a storage failure means "no answer" (logged), never a failed turn.
"""
from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicebot.errors import StorageError
from voicebot.storage import faq

log = logging.getLogger(__name__)

THRESHOLD = 0.5
TFIDF_THRESHOLD = 0.45


@dataclass(frozen=True)
class FaqMatch:
    faq_id: int
    answer: str
    variant: str
    score: float


class _Index:
    """The answers of one revision and their variants' vectors (made lazily, per encoder kind)."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows
        self.pairs = [(row, v) for row in rows for v in row["variants"]]
        self._vectors = None
        self._tfidf = None

    def best(self, text: str, embedder) -> FaqMatch | None:
        if not self.pairs or not text.strip():
            return None
        if embedder is not None:
            if self._vectors is None:
                self._vectors = np.asarray(embedder.embed([v for _, v in self.pairs]))
            scores, threshold = self._vectors @ np.asarray(embedder.embed([text]))[0], THRESHOLD
        else:
            from sklearn.feature_extraction.text import TfidfVectorizer

            if self._tfidf is None:
                vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
                self._tfidf = (vectorizer, vectorizer.fit_transform([v for _, v in self.pairs]))
            vectorizer, matrix = self._tfidf
            scores, threshold = (matrix @ vectorizer.transform([text]).T).toarray()[:, 0], TFIDF_THRESHOLD
        i = int(np.argmax(scores))
        if float(scores[i]) < threshold:
            return None
        row, variant = self.pairs[i]
        return FaqMatch(row["id"], row["answer"], variant, round(float(scores[i]), 3))


_lock = threading.Lock()
_cache: "weakref.WeakKeyDictionary[Any, tuple[int, _Index]]" = weakref.WeakKeyDictionary()


def answer_for(db, text: str, embedder=None) -> FaqMatch | None:
    """The FAQ answer whose question is closest to ``text`` if close enough, else None."""
    if db is None:
        return None
    try:
        index = _index(db)
    except StorageError as exc:
        log.error("FAQ answers could not be read: %s", exc)
        return None
    return index.best(text, embedder)


def _index(db) -> _Index:
    current = faq.revision(db)
    with _lock:
        cached = _cache.get(db)
        if cached is not None and cached[0] == current:
            return cached[1]
    index = _Index(faq.answers(db))
    with _lock:
        _cache[db] = (current, index)
    return index
