"""Recommendations from purchase history: item co-occurrence ("people who bought X also bought
Y"), with the most popular items as the fallback and the baseline.

``CoOccurrence(histories, weighting)`` counts, over every customer's set of purchased items,
how often two items were bought by the same customer; ``raw`` scores a candidate by those
counts summed over the caller's items, ``cosine`` divides each count by sqrt(freq(a)*freq(b))
so that best sellers do not win by size alone. ``Popularity`` ranks by buyers. Both skip what
the caller already has. ``recommend_for_phone`` is the ``recommendations`` data source: the
co-occurrence picks first, then the category best sellers ``storage.customers.recommendations``
gives (so a caller whose items nobody else bought still hears something related).
``benchmarks/recommendations.py`` measures hit rate at k on held-out purchases.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable

from sqlalchemy import select

from voicebot.storage import customers as customer_store
from voicebot.storage.db import Database
from voicebot.storage.tables import Order

WEIGHTINGS = ("raw", "cosine")


class Popularity:
    """The items most customers bought (the baseline)."""

    name = "popularity"

    def __init__(self, histories: Iterable[Iterable[str]]):
        self.freq = Counter(item for history in histories for item in set(history))

    def recommend(self, history: Iterable[str], k: int) -> list[str]:
        owned = set(history)
        return sorted((item for item in self.freq if item not in owned), key=lambda item: (-self.freq[item], item))[:k]


class CoOccurrence:
    """Items bought by the same customers as the caller's items, best first; ties and
    shortfalls are filled by popularity."""

    def __init__(self, histories: Iterable[Iterable[str]], weighting: str = "cosine"):
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}")
        self.name = f"cooccurrence-{weighting}"
        self.weighting = weighting
        baskets = [set(h) for h in histories]
        self.popular = Popularity(baskets)
        self.pairs: dict[str, Counter] = defaultdict(Counter)
        for basket in baskets:
            for a in basket:
                for b in basket:
                    if a != b:
                        self.pairs[a][b] += 1

    def scores(self, history: Iterable[str]) -> Counter:
        owned, freq, out = set(history), self.popular.freq, Counter()
        for a in owned:
            for b, count in self.pairs.get(a, {}).items():
                if b in owned:
                    continue
                out[b] += count / math.sqrt(freq[a] * freq[b]) if self.weighting == "cosine" else count
        return out

    def recommend(self, history: Iterable[str], k: int) -> list[str]:
        owned = set(history)
        scores = self.scores(owned)
        ranked = sorted(scores, key=lambda item: (-scores[item], -self.popular.freq[item], item))[:k]
        return ranked + [item for item in self.popular.recommend(owned, k + len(ranked)) if item not in ranked][: k - len(ranked)]


def recommend_for_phone(db: Database, phone: str, limit: int = 2) -> dict:
    """The flow's ``recommendations``: ``found`` (something related to the caller's purchases),
    ``items`` (a phrase to speak), ``item_list``, ``last_item``."""
    base = customer_store.recommendations(db, phone, limit)
    with db.session() as session:
        rows = session.execute(select(Order.customer_id, Order.item)).all()
        mine = customer_store.find_customer(session, db, phone)
        mine_id = mine.id if mine is not None else None
    histories: dict[int, set[str]] = defaultdict(set)
    for customer_id, item in rows:
        histories[customer_id].add(item)
    owned = histories.get(mine_id, set())
    scores = CoOccurrence(histories.values()).scores(owned) if owned else Counter()
    related = sorted(scores, key=lambda item: (-scores[item], item))
    picks = list(dict.fromkeys(related + [i for i in base["item_list"] if base["found"]]))[:limit]
    if not picks:
        return base
    return dict(base, found=True, items=_spoken(picks), item_list=picks)


def _spoken(items: list[str]) -> str:
    items = [i.lower() for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
