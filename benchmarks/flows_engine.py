"""Flow speed: how long loading/validating a flow and one engine step take.

Loads flows/retail_demo.yaml N times, then plays complete keypad calls through the engine,
answering lookups from a real seeded SQLite database (lookup time is reported separately).
Prints p50/p95 in milliseconds. Run: python benchmarks/flows_engine.py [--calls 200]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from voicebot.actions import Lookup
from voicebot.events import CallStarted, DtmfPressed, LookupCompleted
from voicebot.flows.engine import FlowState, step
from voicebot.flows.loader import load_flow
from voicebot.session.datasources import DataSources
from voicebot.storage.db import Database
from voicebot.storage.seed import seed_demo

DEMO = Path(__file__).resolve().parent.parent / "flows" / "retail_demo.yaml"
CALL = ["1", "4172#", "1", "3", "1", "5", "2", "4"]  # order status, main menu, returns, ..., survey


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=100)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    loads = []
    for _ in range(args.loads):
        t = time.perf_counter()
        flow = load_flow(DEMO)
        loads.append(time.perf_counter() - t)
    print(f"load+validate retail_demo ({len(flow.nodes)} nodes): p50 {pct(loads, .5):.1f} ms  p95 {pct(loads, .95):.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/demo.db")
        seed_demo(db)
        sources = DataSources.for_flow(flow, db)
        steps, lookups, json_trips, ended = [], [], [], 0
        for i in range(args.calls):
            t = time.perf_counter()
            state, actions = step(flow, None, CallStarted(f"bench-{i}", "+15550001111", params={"local_time": "2026-11-24T10:00"}))
            steps.append(time.perf_counter() - t)
            for keys in [None] + CALL:
                if keys is not None:
                    t = time.perf_counter()
                    state, actions = step(flow, state, DtmfPressed(keys))
                    steps.append(time.perf_counter() - t)
                while actions and isinstance(actions[-1], Lookup):
                    lookup = actions[-1]
                    t = time.perf_counter()
                    result = sources.call(lookup.source, lookup.params)
                    lookups.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    state, actions = step(flow, state, LookupCompleted(lookup.lookup_id, result))
                    steps.append(time.perf_counter() - t)
                t = time.perf_counter()
                state = FlowState.from_json(state.to_json())
                json_trips.append(time.perf_counter() - t)
            ended += state.ended
        db.engine.dispose()
    print(f"engine step ({len(steps)} steps): p50 {pct(steps, .5):.3f} ms  p95 {pct(steps, .95):.3f} ms")
    print(f"state JSON round trip: p50 {pct(json_trips, .5):.3f} ms  p95 {pct(json_trips, .95):.3f} ms")
    print(f"SQL lookup ({len(lookups)}): p50 {pct(lookups, .5):.2f} ms  p95 {pct(lookups, .95):.2f} ms")
    print(f"calls completed: {ended}/{args.calls} (mean {statistics.mean(steps) * 1000:.3f} ms per step)")


if __name__ == "__main__":
    main()
