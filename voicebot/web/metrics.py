"""Prometheus metrics of a voicebot process, served at ``GET /metrics``.

Module-level collectors in prometheus-client's default registry, so any module (the session
runner, the Twilio side) records into the same place. Stages of a turn: ``endpoint`` (waiting
for the caller to finish), ``asr``, ``nlu``, ``flow``, ``tts``, and ``total`` (last caller frame
received -> first bot frame sent).
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
