"""Timing helpers shared by the benchmark scripts: time a call per item, summarise as p50/p95."""
from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np


def time_each_ms(fn: Callable, items: Iterable) -> list[float]:
    """Milliseconds ``fn(item)`` took, for each item in turn."""
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - start) * 1000)
    return times


def p50_p95(times_ms: list[float], digits: int = 1) -> dict:
    """``{"p50": ..., "p95": ...}`` of the times, rounded to ``digits``."""
    return {"p50": round(float(np.percentile(times_ms, 50)), digits), "p95": round(float(np.percentile(times_ms, 95)), digits)}
