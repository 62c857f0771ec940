"""Reading intent training/evaluation CSVs (columns ``text,label``) with errors that name rows,
and scoring predictions (accuracy, macro-F1, per-intent report, confusions, OOS recall)."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from voicebot.errors import NLUError


def read_intent_csv(path: str | Path, *, for_training: bool = True, oos_label: str = "oos") -> tuple[list[str], list[str]]:
    """(texts, labels) from a CSV with ``text`` and ``label`` columns.

    Raises ``NLUError`` naming the file and rows for: a missing file or column, empty text or
    label, and (``for_training``) an in-scope label with only one example.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip().lower() for c in (reader.fieldnames or [])]
            missing = [c for c in ("text", "label") if c not in columns]
            if missing:
                raise NLUError(f"{path}: missing column(s) {', '.join(missing)}; expected a header row `text,label` (found: {', '.join(columns) or 'nothing'})")
            names = {c.strip().lower(): c for c in reader.fieldnames}
            rows = [(n, (r.get(names["text"]) or "").strip(), (r.get(names["label"]) or "").strip())
                    for n, r in enumerate(reader, start=2)]
    except OSError as exc:
        raise NLUError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise NLUError(f"{path}: not a readable CSV ({exc})") from exc
    if not rows:
        raise NLUError(f"{path}: no data rows")
    empty_label = [n for n, _, label in rows if not label]
    empty_text = [n for n, text, _ in rows if not text]
    if empty_label:
        raise NLUError(f"{path}: empty label in row(s) {_rows(empty_label)}")
    if empty_text:
        raise NLUError(f"{path}: empty text in row(s) {_rows(empty_text)}")
    texts, labels = [t for _, t, _ in rows], [l for _, _, l in rows]
    if for_training:
        counts = Counter(labels)
        singles = sorted(l for l, c in counts.items() if c == 1 and l != oos_label)
        if singles:
            where = {l: n for n, _, l in rows}
            detail = ", ".join(f"'{l}' (row {where[l]})" for l in singles[:10])
            raise NLUError(f"{path}: label(s) with only one example: {detail}; give each intent at least 2 (5-10 is better)")
    return texts, labels


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10]))
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def score(gold: list[str], pred: list[str], oos_label: str = "oos") -> dict:
    """Accuracy, macro-F1 over gold labels, per-label precision/recall/F1, OOS recall and the
    most frequent confusions. OOS counts as a label like any other in accuracy."""
    labels = sorted(set(gold) | set(pred))
    per = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3), "support": tp + fn}
    gold_labels = [l for l in labels if per[l]["support"]]
    in_scope = [(g, p) for g, p in zip(gold, pred) if g != oos_label]
    confusions = Counter((g, p) for g, p in zip(gold, pred) if g != p).most_common(10)
    result = {
        "n": len(gold),
        "accuracy": round(sum(g == p for g, p in zip(gold, pred)) / max(len(gold), 1), 4),
        "macro_f1": round(sum(per[l]["f1"] for l in gold_labels) / max(len(gold_labels), 1), 4),
        "in_scope_accuracy": round(sum(g == p for g, p in in_scope) / max(len(in_scope), 1), 4),
        "per_label": per,
        "top_confusions": [{"gold": g, "predicted": p, "count": c} for (g, p), c in confusions],
    }
    if oos_label in gold:
        result["oos_recall"] = per[oos_label]["recall"]
    result["confusion_summary"] = {
        "correct": sum(g == p for g, p in zip(gold, pred)),
        "wrong_intent": sum(g != p and g != oos_label and p != oos_label for g, p in zip(gold, pred)),
        "rejected_in_scope": sum(g != oos_label and p == oos_label for g, p in zip(gold, pred)),
        "accepted_oos": sum(g == oos_label and p != oos_label for g, p in zip(gold, pred)),
    }
    result["confused_pairs"] = confused_pairs(gold, pred, oos_label)
    return result


def confused_pairs(gold: list[str], pred: list[str], oos_label: str = "oos", top: int = 10) -> list[dict]:
    """The in-scope intent pairs most often mistaken for each other, counting both directions."""
    one_way = Counter((g, p) for g, p in zip(gold, pred) if g != p and oos_label not in (g, p))
    pairs = Counter()
    for (g, p), n in one_way.items():
        pairs[tuple(sorted((g, p)))] += n
    return [{"a": a, "b": b, "count": n, "a_as_b": one_way[(a, b)], "b_as_a": one_way[(b, a)]}
            for (a, b), n in pairs.most_common(top)]
