"""Prometheus metrics of the recognisers (default registry, served at ``GET /metrics``).

Recorded in the serving process only (worker processes report back through it)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge("voicebot_asr_queue_depth", "Decodes waiting for a free recogniser worker")
WORKERS_BUSY = Gauge("voicebot_asr_workers_busy", "Recogniser workers decoding right now")
REJECTED = Counter("voicebot_asr_rejected_total", "Decodes refused at once: every worker busy and the queue full or too slow")
TIMEOUTS = Counter("voicebot_asr_timeouts_total", "Decodes that ran past their deadline (the worker was killed and replaced)")
WORKER_RESTARTS = Counter("voicebot_asr_worker_restarts_total", "Recogniser worker processes started to replace a killed or dead one")
DECODES = Counter("voicebot_asr_decodes_total", "Finished decodes by the recogniser that produced the text", ["backend"])
DECODE_SECONDS = Histogram("voicebot_asr_decode_seconds", "Decode time in a worker, queueing excluded", ["backend"],
                           buckets=(0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0))
