"""Escalation by voice on every RAVDESS actor never used for choices (7-12), the script of
``flows/tests/retail_angry_audio.yaml``: a neutral clip at the main menu as the caller's baseline,
key 3, an angry (strong) clip, key 1, another angry clip; and the same with the actor's neutral
clips as the control. Real recogniser (what a call uses), understander with voice analysis, the
retail demo flow. Stronger than one actor's scenario: a recogniser or model change that moves one
borderline caller across the threshold cannot hide a drop in how many angry callers reach a human.

Measured (docs/nlu.md): 5 of 6 angry actors escalated, 0 of 6 neutral controls, with the cascade
and with Whisper alone (each misses a different actor)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from voicebot.testing.datasets import shared_datasets_dir  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (shared_datasets_dir() / "emotional_speech_ravdess").exists(),
                                                   reason="needs the shared RAVDESS dataset")]


def test_angry_callers_reach_a_human_and_calm_ones_do_not(tmp_path):
    from emotion_escalation import SCENARIOS, script

    from voicebot.asr.registry import load_asr
    from voicebot.config import load_settings
    from voicebot.nlu.understander import Understander
    from voicebot.session.datasources import DataSources
    from voicebot.storage.db import Database
    from voicebot.storage.seed import seed_demo
    from voicebot.testing.conversations import ConversationRunner
    from voicebot.testing.scenarios import load_scenarios

    flow, _ = load_scenarios(SCENARIOS)
    db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    seed_demo(db)
    runner = ConversationRunner(Understander.from_examples(flow.intents), DataSources.for_flow(flow, db),
                                lambda: load_asr("auto", load_settings(asr_workers=0)))
    escalated = {"angry": [], "neutral": []}
    for actor in range(7, 13):
        for label, emotion, intensity in (("angry", "05", "02"), ("neutral", "01", "01")):
            result = runner.run(flow, script(actor, emotion, intensity), "escalation", ROOT)
            assert not result.skipped, result.skipped
            if any(t.transfer and t.transfer.reason == "caller_frustrated" for t in result.turns):
                escalated[label].append(actor)
    assert len(escalated["angry"]) >= 5, escalated
    assert escalated["neutral"] == [], escalated
