"""The console's analytics numbers (``web.admin.aggregates``), computed by hand for small inputs."""
from __future__ import annotations

from datetime import datetime, timezone

from voicebot.web.admin.aggregates import csv_rows, percentile, summarize


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, 12, 0, tzinfo=timezone.utc)


def _t(speaker, text="", intent=None, confidence=None, frustration=None, latency_ms=None, details=None):
    return {"speaker": speaker, "text": text, "intent": intent, "confidence": confidence, "frustration": frustration,
            "latency_ms": latency_ms, "details": details or {}}


CALLS = [
    {"started_at": _at(1), "outcome": "contained", "duration_s": 30.0, "transfer_reasons": [], "turns": [
        _t("bot", "How can I help?"), _t("caller", "order status", "order_status", 0.9, 0.1, 400.0),
        _t("bot", "Which order?"), _t("caller", "4172", "order_status", 0.8, 0.3, 600.0, {"survey_score": 4})]},
    {"started_at": _at(1), "outcome": "transferred", "duration_s": 60.0, "transfer_reasons": ["caller asked"], "turns": [
        _t("bot", "How can I help?"), _t("caller", "blah", "oos", 0.2, 0.5, 800.0),
        _t("bot", "Sorry?"), _t("caller", "agent", None, None, 0.9, 1000.0)]},
    {"started_at": _at(2), "outcome": "abandoned", "duration_s": None, "transfer_reasons": [], "turns": [
        _t("bot", "How can I help?"), _t("caller", "billing", "billing", 0.5, None, 200.0, {"survey_score": 2})]},
    {"started_at": _at(2), "outcome": "", "duration_s": None, "transfer_reasons": [], "turns": []},  # still ringing
]


def test_rates_are_shares_of_ended_calls():
    s = summarize(CALLS)
    assert (s["calls"], s["ended"]) == (4, 3)
    assert (s["containment"], s["transfer_rate"], s["abandonment"]) == (0.3333, 0.3333, 0.3333)
    assert s["average_handle_time_s"] == 45.0
    assert s["transfer_reasons"] == {"caller asked": 1}
    assert s["intent_distribution"] == {"order_status": 2, "oos": 2, "billing": 1}


def test_series_per_day():
    s = summarize(CALLS)
    assert s["frustration_by_day"] == {"2026-11-01": 0.6}  # peaks 0.3 and 0.9; day 2 has none
    assert s["latency_by_day"] == {"2026-11-01": {"p50": 600.0, "p95": 1000.0, "n": 4},
                                   "2026-11-02": {"p50": 200.0, "p95": 200.0, "n": 1}}


def test_worst_prompts_rank_by_the_share_misunderstood():
    s = summarize(CALLS)
    assert s["worst_prompts"] == [{"prompt": "Sorry?", "misunderstood": 1.0, "answers": 1},
                                  {"prompt": "How can I help?", "misunderstood": 0.6667, "answers": 3}]
    assert summarize(CALLS, min_answers=2)["worst_prompts"] == [{"prompt": "How can I help?", "misunderstood": 0.6667, "answers": 3}]


def test_satisfaction_from_survey_scores_or_none():
    assert summarize(CALLS)["satisfaction"] == {"mean": 3.0, "n": 2, "distribution": {2: 1, 4: 1}}
    assert summarize(CALLS[1:2])["satisfaction"] is None


def test_empty_input_gives_no_rates_rather_than_zero():
    s = summarize([])
    assert (s["containment"], s["average_handle_time_s"], s["worst_prompts"]) == (None, None, [])


def test_percentile_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([5, 1, 3, 2, 4], 95) == 5
    assert percentile(range(1, 101), 95) == 95


def test_csv_rows_cover_every_metric():
    rows = csv_rows(summarize(CALLS))
    assert rows[0] == ["metric", "key", "value"]
    assert ["abandonment", "", 0.3333] in rows and ["latency_p95_ms", "2026-11-01", 1000.0] in rows
    assert ["worst_prompt", "Sorry?", 1.0] in rows and ["satisfaction_mean", "", 3.0] in rows
