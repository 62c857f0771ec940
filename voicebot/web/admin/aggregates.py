"""The console's analytics, computed from plain call dicts (``storage.call_queries.calls_with_turns``).

Pure: no database, no Flask; same input, same numbers. Definitions:

- containment: share of ended calls with outcome ``contained`` (served without a human);
- transfer rate: share with outcome ``transferred``, with the transfer reasons counted;
- abandonment: share with outcome ``abandoned`` (the caller hung up before an outcome);
- average handle time: mean ``duration_s`` over calls that have one;
- intent distribution: caller turns per intent (out of scope counted as ``oos``);
- frustration over time: per day, the mean over calls of each call's highest frustration;
- latency per day: p50 and p95 (nearest-rank) of caller turns' ``latency_ms``;
- worst-understood prompts: the bot line just before caller turns, ranked by the share of those
  turns that were out of scope or under ``LOW_CONFIDENCE`` (prompts answered at least
  ``min_answers`` times);
- satisfaction: mean and distribution of survey scores (``details["survey_score"]`` of any line;
  ``session.dialogue`` stores each answer as a system line when the call ends);
- survey comments: the ``LATEST_COMMENTS`` newest callers' comments (``details["comment"]``), with their score.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any, Iterable

LOW_CONFIDENCE = 0.6
ENDED = ("contained", "transferred", "abandoned")
LATEST_COMMENTS = 10


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100) of ``values``; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _day(call: dict) -> str:
    return call["started_at"].date().isoformat() if call.get("started_at") else "unknown"


def _misunderstood(turn: dict) -> bool:
    return turn.get("intent") in (None, "oos") or (turn.get("confidence") is not None and turn["confidence"] < LOW_CONFIDENCE)


def summarize(calls: list[dict[str, Any]], min_answers: int = 1) -> dict[str, Any]:
    """Every number and series the analytics page shows (see the module docstring)."""
    outcomes = Counter(c.get("outcome") or "" for c in calls)
    ended = sum(outcomes[o] for o in ENDED)
    durations = [c["duration_s"] for c in calls if c.get("duration_s") is not None]
    reasons = Counter(r for c in calls for r in c.get("transfer_reasons", []))
    intents: Counter = Counter()
    frustration: dict[str, list[float]] = defaultdict(list)
    latency: dict[str, list[float]] = defaultdict(list)
    prompts: dict[str, list[bool]] = defaultdict(list)
    scores: list[int] = []
    comments: list[dict[str, Any]] = []
    for call in calls:
        day, last_bot, peak = _day(call), None, None
        for turn in call.get("turns", []):
            score = (turn.get("details") or {}).get("survey_score")
            if isinstance(score, (int, float)) and not isinstance(score, bool):
                scores.append(int(score))
                if turn["details"].get("comment"):
                    comments.append({"call_sid": call.get("call_sid"), "day": day, "score": int(score),
                                     "comment": turn["details"]["comment"], "at": call.get("started_at")})
            if turn["speaker"] == "bot":
                last_bot = turn.get("text") or ""
                continue
            if turn["speaker"] != "caller":
                continue
            intents[turn.get("intent") or "oos"] += 1
            if turn.get("frustration") is not None:
                peak = max(peak or 0.0, turn["frustration"])
            if turn.get("latency_ms") is not None:
                latency[day].append(turn["latency_ms"])
            if last_bot:
                prompts[last_bot].append(_misunderstood(turn))
        if peak is not None:
            frustration[day].append(peak)
    worst = sorted(((sum(flags) / len(flags), len(flags), text) for text, flags in prompts.items()
                    if len(flags) >= min_answers and any(flags)), key=lambda x: (-x[0], -x[1], x[2]))
    return {
        "calls": len(calls), "ended": ended, "outcomes": dict(outcomes),
        "containment": _share(outcomes["contained"], ended),
        "transfer_rate": _share(outcomes["transferred"], ended),
        "abandonment": _share(outcomes["abandoned"], ended),
        "average_handle_time_s": round(sum(durations) / len(durations), 2) if durations else None,
        "transfer_reasons": dict(reasons.most_common()),
        "intent_distribution": dict(intents.most_common()),
        "frustration_by_day": {d: round(sum(v) / len(v), 4) for d, v in sorted(frustration.items())},
        "latency_by_day": {d: {"p50": percentile(v, 50), "p95": percentile(v, 95), "n": len(v)}
                           for d, v in sorted(latency.items())},
        "worst_prompts": [{"prompt": text, "misunderstood": round(rate, 4), "answers": n} for rate, n, text in worst[:10]],
        "satisfaction": {"mean": round(sum(scores) / len(scores), 2), "n": len(scores),
                         "distribution": dict(sorted(Counter(scores).items()))} if scores else None,
        "survey_comments": [{k: v for k, v in c.items() if k != "at"} for c in
                            sorted(comments, key=lambda c: (c["at"] is not None, c["at"] or 0), reverse=True)[:LATEST_COMMENTS]],
    }


def csv_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The summary as ``metric, key, value`` rows (a CSV export anyone's spreadsheet opens)."""
    rows: list[list[Any]] = [["metric", "key", "value"]]
    for name in ("calls", "ended", "containment", "transfer_rate", "abandonment", "average_handle_time_s"):
        rows.append([name, "", "" if summary[name] is None else summary[name]])
    for name in ("outcomes", "transfer_reasons", "intent_distribution", "frustration_by_day"):
        rows += [[name, key, value] for key, value in summary[name].items()]
    for day, row in summary["latency_by_day"].items():
        rows += [["latency_p50_ms", day, row["p50"]], ["latency_p95_ms", day, row["p95"]]]
    rows += [["worst_prompt", w["prompt"], w["misunderstood"]] for w in summary["worst_prompts"]]
    if summary["satisfaction"]:
        rows.append(["satisfaction_mean", "", summary["satisfaction"]["mean"]])
    return rows
