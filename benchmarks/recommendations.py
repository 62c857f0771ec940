"""Hit rate at k of the recommenders (``voicebot.customers.recommendations``) on held-out
purchase histories, against the popularity baseline.

Data: ``--data FILE.csv`` with columns ``customer,item[,time]`` (one purchase a row; ``time`` is
anything that sorts, rows keep file order without it). Split, per customer with at least
``--min-items`` distinct items, in time order: the LAST item is the test item, the one before it
the validation item, the rest is history. Choosing: every method is fitted on all histories with
both held-out items removed and scored on the validation items; the best by hit@k is chosen.
Reporting: the chosen method and the popularity baseline are refitted with the validation item
added back and scored ONCE on the test items. A hit: the held-out item is among the k items
recommended (items the customer already has are never recommended).

Real baskets: ``--arff`` reads a Weka market-basket file such as ``supermarket.arff`` from
Debian's ``weka`` package (docs/customers.md has the result: no better than popularity).
``--synthetic N`` generates N customers with a planted structure (items grouped in categories,
customers buying mostly within one or two categories, with popularity skew); its numbers check
the harness and the method on data of that shape, they are NOT evidence about real shoppers.

Run: python benchmarks/recommendations.py --data purchases.csv [--k 5] [--json]
     python benchmarks/recommendations.py --arff supermarket.arff [--seed 7] [--k 5]
     python benchmarks/recommendations.py --synthetic 2000 --seed 7 [--k 5] [--json]
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voicebot.customers.recommendations import WEIGHTINGS, CoOccurrence, Popularity  # noqa: E402


def load_csv(path: str) -> dict[str, list[str]]:
    """customer -> distinct items in purchase order (by ``time`` when the file has it)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"customer", "item"} <= set(reader.fieldnames):
            sys.exit(f"{path}: the header must name at least the columns customer and item")
        for i, row in enumerate(reader):
            rows.append((row["customer"], row.get("time") or f"{i:012d}", row["item"]))
    histories: dict[str, list[str]] = defaultdict(list)
    for customer, _, item in sorted(rows, key=lambda r: (r[0], r[1])):
        if item not in histories[customer]:
            histories[customer].append(item)
    return histories


def synthetic(customers: int, seed: int, categories: int = 12, per_category: int = 15) -> dict[str, list[str]]:
    """Planted structure: a customer favours one or two categories; items within a category
    have a popularity skew; one purchase in five is any item at all."""
    rng = random.Random(seed)
    items = [[f"c{c}-i{i}" for i in range(per_category)] for c in range(categories)]
    weights = [1.0 / (i + 1) for i in range(per_category)]
    everything = [item for group in items for item in group]
    out = {}
    for n in range(customers):
        liked = rng.sample(range(categories), rng.choice((1, 2)))
        history: list[str] = []
        for _ in range(rng.randint(3, 9)):
            if rng.random() < 0.2:
                item = rng.choice(everything)
            else:
                item = rng.choices(items[rng.choice(liked)], weights)[0]
            if item not in history:
                history.append(item)
        out[f"u{n}"] = history
    return out


def split(histories: dict[str, list[str]], min_items: int):
    """(train histories without both held-out items, validation pairs, test pairs)."""
    kept = {c: h for c, h in histories.items() if len(h) >= min_items}
    train = {c: h[:-2] for c, h in kept.items()}
    val = [(c, h[:-2], h[-2]) for c, h in kept.items()]
    test = [(c, h[:-1], h[-1]) for c, h in kept.items()]
    others = [h for c, h in histories.items() if c not in kept]  # short histories still teach co-occurrence
    return train, others, val, test


def hit_rate(model, cases, k: int) -> float:
    return sum(target in model.recommend(history, k) for _, history, target in cases) / max(len(cases), 1)


def methods(histories):
    return [Popularity(histories)] + [CoOccurrence(histories, w) for w in WEIGHTINGS]


def load_baskets_arff(path: str, seed: int) -> dict[str, list[str]]:
    """A Weka market-basket ARFF (every attribute ``{t}``, a row per basket, ``t`` = bought):
    basket -> its items, in an order shuffled with ``seed`` (a basket has no purchase order, so
    the held-out items are random items of the basket, not the file's last departments)."""
    names: list[str] = []
    histories: dict[str, list[str]] = {}
    rng = random.Random(seed)
    with open(path, encoding="utf-8", errors="replace") as handle:
        in_data = False
        for line in handle:
            line = line.strip()
            if not line or line.startswith("%"):
                continue
            if not in_data:
                if line.lower().startswith("@attribute"):
                    names.append(line.split(None, 2)[1].strip("'\""))
                in_data = line.lower() == "@data"
                continue
            items = [name for name, value in zip(names, line.split(",")) if value.strip() == "t"]
            rng.shuffle(items)
            histories[f"basket{len(histories) + 1}"] = items
    return histories


def run(histories: dict[str, list[str]], k: int, min_items: int) -> dict:
    train, others, val, test = split(histories, min_items)
    fitted = methods(list(train.values()) + others)
    validation = {m.name: round(hit_rate(m, val, k), 4) for m in fitted}
    chosen = max(validation, key=lambda name: (validation[name], name != "popularity"))
    refit = {m.name: m for m in methods([h for _, h, _ in test] + others)}
    report = {name: round(hit_rate(refit[name], test, k), 4) for name in dict.fromkeys((chosen, "popularity"))}
    return {"customers": len(histories), "evaluated": len(test), "items": len({i for h in histories.values() for i in h}),
            "k": k, "validation_hit_rate": validation, "chosen": chosen, "test_hit_rate": report}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="CSV with customer,item[,time]")
    source.add_argument("--arff", help="a Weka market-basket ARFF, e.g. supermarket.arff from Debian's weka package")
    source.add_argument("--synthetic", type=int, metavar="N", help="N generated customers (harness check only)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--min-items", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.data:
        histories = load_csv(args.data)
    elif args.arff:
        histories = load_baskets_arff(args.arff, args.seed)
    else:
        histories = synthetic(args.synthetic, args.seed)
    result = run(histories, args.k, args.min_items)
    result["data"] = args.data or (f"{args.arff} (seed {args.seed})" if args.arff else None) or f"synthetic({args.synthetic}, seed={args.seed})"
    if args.json:
        print(json.dumps(result))
    else:
        print(f"data: {result['data']}: {result['customers']} customers, {result['items']} items, {result['evaluated']} evaluated")
        print(f"validation hit@{args.k}: " + ", ".join(f"{n} {v:.3f}" for n, v in result["validation_hit_rate"].items()))
        print(f"chosen: {result['chosen']}; test hit@{args.k} (once): "
              + ", ".join(f"{n} {v:.3f}" for n, v in result["test_hit_rate"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
