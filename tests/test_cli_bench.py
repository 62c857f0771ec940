"""``voicebot bench calls`` as a user runs it (a subprocess), against a running server with the
echo bot: the benchmark's whole script goes through, and its JSON report has every documented
number, counted right. (Its speed figures are the benchmark's business, not a test's.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN

from voicebot.cli.bench import format_report

STATS = {"n", "p50", "p95"}


def _bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT_SID)
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", "bench", "calls", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def report(echo_server):
    done = _bench("-c", "1", "-n", "1", "--script", "demo", "--url", echo_server.url, "--json")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()  # one JSON object
    return json.loads(line)


def test_bench_calls_json_has_every_documented_number(report, echo_server):
    assert set(report) == {"concurrency", "calls", "calls_ok", "url", "turn_latency_ms", "turns_without_reply",
                           "barge_in_clear_ms", "barge_ins_without_clear", "stages_ms", "cpu_percent_of_one_core",
                           "cpu_s_per_call", "rss_mb", "rss_mb_per_call", "wall_s", "first_error", "stagger_s", "script",
                           "session_tuning", "load_average", "speech_turns_ended_early", "speech_turns", "holding_phrases"}
    assert (report["concurrency"], report["calls"], report["calls_ok"]) == (1, 1, 1)
    assert report["url"] == echo_server.url and report["first_error"] == "" and report["script"] == "demo"
    assert report["stagger_s"] == 0.3 and report["session_tuning"] == {} and len(report["load_average"]) == 3
    # the echo bot records no caller turns (no stages); a running server's CPU and memory are not this process's to measure
    assert report["stages_ms"] == {} and report["speech_turns"] == [] and report["speech_turns_ended_early"] == [0, 0]
    assert report["holding_phrases"] == 0
    assert report["cpu_percent_of_one_core"] is None and report["cpu_s_per_call"] is None
    assert report["rss_mb"] is None and report["rss_mb_per_call"] is None and report["wall_s"] > 0


def test_bench_calls_counts_every_turn_of_the_script(report):
    # the script: key 1 over the greeting, the order number, read speech over the reply, key 2;
    # the echo bot answers every turn, clears on a key but not on speech
    latency = report["turn_latency_ms"]
    assert {name: latency[name]["n"] for name in latency} == {"speech": 2, "keys": 2, "all": 4}
    assert report["turns_without_reply"] == 0
    assert report["barge_in_clear_ms"]["n"] == 1 and report["barge_ins_without_clear"] == 1
    for stats in [*latency.values(), report["barge_in_clear_ms"]]:
        assert set(stats) == STATS and 0 < stats["p50"] <= stats["p95"]


def test_bench_report_in_words_carries_the_same_numbers(report):
    text = format_report(report)
    assert text.splitlines()[0].startswith(f"1/1 demo calls, 1 concurrent (starts 0.3 s apart), {report['wall_s']} s, server ")
    speech = report["turn_latency_ms"]["speech"]
    assert f"  speech                  2 {speech['p50']:>7.0f} {speech['p95']:>7.0f}" in text
    assert "(missed: 1)" in text and "turns without a reply: 0; holding phrases said: 0" in text
    assert "CPU" not in text  # not measured against a running server


def test_tuning_options_with_a_running_server_are_a_usage_error():
    done = _bench("--url", "http://127.0.0.1:1", "--vad", "webrtc", timeout=60)
    assert done.returncode == 2 and "a running server uses its own settings" in done.stderr
    assert "Traceback" not in done.stderr


def test_natural_callers_say_sentences_a_number_and_talk_over_a_prompt(echo_server):
    """The default script: a recorded sentence at the menu, key 1, the order number, a sentence
    over the next prompt, key 2 (the echo bot answers each turn and never clears on speech)."""
    done = _bench("-c", "2", "-n", "2", "--url", echo_server.url, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["script"] == "natural" and report["calls_ok"] == 2 and report["turns_without_reply"] == 0
    assert {name: stats["n"] for name, stats in report["turn_latency_ms"].items()} == {"speech": 6, "keys": 4, "all": 10}
    assert report["barge_ins_without_clear"] == 2  # one sentence over a prompt per call
