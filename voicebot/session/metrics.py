"""Prometheus metrics the session records (default registry, served at ``GET /metrics``).

Turn latency is the web app's ``voicebot_turn_latency_seconds`` histogram (one definition in
``voicebot.web.metrics``); the counters below are the session's own.
"""
from __future__ import annotations

from prometheus_client import Counter

from voicebot.web.metrics import TURN_LATENCY

STAGES = ("endpoint", "asr", "nlu", "flow", "tts", "total")

BARGE_INS = Counter("voicebot_barge_ins_total", "Prompts interrupted by the caller", ["by"])
NO_INPUTS = Counter("voicebot_no_input_total", "Listen timeouts without caller input")
TRANSFERS = Counter("voicebot_transfers_total", "Calls handed to a human", ["reason"])
EARLY_ENDS = Counter("voicebot_early_turn_ends_total", "Caller turns ended before the full end-of-turn silence: the answer was complete")
LOOKUP_FILLERS = Counter("voicebot_lookup_fillers_total", "Lookups slow enough to need a filler prompt")


def observe_turn(stages_s: dict[str, float]) -> None:
    """Record one turn's per-stage durations (seconds); unknown stage names are ignored."""
    for stage, seconds in stages_s.items():
        if stage in STAGES and seconds is not None:
            TURN_LATENCY.labels(stage).observe(max(0.0, seconds))
