"""Prometheus metrics of a voicebot process, served at ``GET /metrics``.

A leaf module: every layer may import it (it imports nothing of voicebot). Collectors live in
prometheus-client's default registry, so the session runner, the Twilio side and the web app
record into one place. Stages of a turn: ``endpoint`` (waiting for the caller to finish),
``asr``, ``nlu``, ``flow``, ``tts``, and ``total`` (last caller frame received -> first bot
frame sent).
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STAGES = ("endpoint", "asr", "nlu", "flow", "tts", "total")

CALLS_ACTIVE = Gauge("voicebot_calls_active", "Calls with an open media stream")
CALLS_TOTAL = Counter("voicebot_calls_total", "Media streams started", ["channel"])
TURN_LATENCY = Histogram(
    "voicebot_turn_latency_seconds",
    "Turn latency per stage (total: last caller speech frame received -> first bot frame sent)",
    ["stage"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.2, 1.6, 2.5, 5.0),
)
ERRORS = Counter("voicebot_errors_total", "Errors by where they happened", ["where"])
WEBHOOKS = Counter("voicebot_webhooks_total", "Twilio webhooks received", ["route", "outcome"])
BARGE_INS = Counter("voicebot_barge_ins_total", "Prompts interrupted by the caller", ["by"])
NO_INPUTS = Counter("voicebot_no_input_total", "Listen timeouts without caller input")
TRANSFERS = Counter("voicebot_transfers_total", "Calls handed to a human", ["reason"])
EARLY_ENDS = Counter("voicebot_early_turn_ends_total", "Caller turns ended before the full end-of-turn silence: the answer was complete")
LOOKUP_FILLERS = Counter("voicebot_lookup_fillers_total", "Lookups slow enough to need a filler prompt")
HOLDING_PHRASES = Counter("voicebot_holding_phrases_total", "Caller turns that heard a holding phrase: every recogniser was busy")


def observe_turn(stages_s: dict[str, float]) -> None:
    """Record one turn's per-stage durations (seconds); unknown stage names are ignored."""
    for stage, seconds in stages_s.items():
        if stage in STAGES and seconds is not None:
            TURN_LATENCY.labels(stage).observe(max(0.0, seconds))
