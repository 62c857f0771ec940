"""Hypothesis settings shared by tests/test_fuzz_*.py.

The "ci" profile (default) is bounded and reproducible: a fixed number of examples per test,
derandomized, a generous per-example deadline that only a hang or a pathological slow path
trips (never a timing assertion), no example database written into the work tree. Set
``HYPOTHESIS_PROFILE=deep`` locally to search longer with random seeds.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=100, deadline=2000, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("deep", max_examples=5000, deadline=2000, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
