"""Does an angry voice escalate a caller whose words are neutral? Every unseen RAVDESS actor.

Plays the script of flows/tests/retail_angry_audio.yaml (neutral clip at the main menu as the
caller's baseline, key 3, angry clip, key 1, angry clip) for each actor 7-12 (the voice score
was tuned on 1-6), and the same script with the actor's neutral clips as the control, through
the real recogniser, understander (voice analysis on) and the retail demo flow. Prints, per
actor and script, the transfer reason (if any), the final frustration score, the voice arousal of
each spoken turn (0.5 = like the caller's earlier turns) and what the recogniser heard. RAVDESS is evaluation-only (CC BY-NC-SA).

    OMP_NUM_THREADS=1 python benchmarks/emotion_escalation.py [--intensity strong|normal]   (~1 min)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlu_datasets import RAVDESS  # noqa: E402

from voicebot.asr.registry import load_asr  # noqa: E402
from voicebot.config import load_settings  # noqa: E402
from voicebot.session.datasources import DataSources  # noqa: E402
from voicebot.testing.conversations import ConversationRunner  # noqa: E402
from voicebot.testing.scenarios import load_scenarios  # noqa: E402
from voicebot.nlu.understander import Understander  # noqa: E402
from voicebot.storage.db import Database  # noqa: E402
from voicebot.storage.seed import seed_demo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "flows" / "tests" / "retail_angry_audio.yaml"


def clip(emotion: str, intensity: str, statement: int, repetition: int, actor: int) -> str:
    """Absolute path of a RAVDESS clip (file names encode emotion, intensity, statement, take, actor)."""
    return str(RAVDESS / "wav" / f"03-01-{emotion}-{intensity}-{statement:02d}-{repetition:02d}-{actor:02d}.wav")


def script(actor: int, emotion: str, intensity: str) -> dict:
    return {"name": f"actor {actor}", "caller": "+15559990000", "local_time": "2026-11-24T10:00:00", "turns": [
        {"audio": clip("01", "01", 1, 1, actor)}, {"dtmf": "3"},
        {"audio": clip(emotion, intensity, 2, 1, actor)}, {"dtmf": "1"},
        {"audio": clip(emotion, intensity, 1, 2, actor)}]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intensity", choices=("strong", "normal"), default="strong", help="intensity of the angry clips")
    parser.add_argument("--asr", default="auto", help="recogniser (registry name; default: what a call uses, in this process)")
    args = parser.parse_args()
    flow, _ = load_scenarios(SCENARIOS)
    db = Database(f"sqlite:///{tempfile.mkdtemp()}/demo.db")
    seed_demo(db)
    runner = ConversationRunner(Understander.from_examples(flow.intents), DataSources.for_flow(flow, db), lambda: load_asr(args.asr, load_settings(asr_workers=0)))

    escalated = {"angry": 0, "neutral": 0}
    for actor in range(7, 13):
        for label, emotion, intensity in (("angry", "05", "02" if args.intensity == "strong" else "01"), ("neutral", "01", "01")):
            result = runner.run(flow, script(actor, emotion, intensity), "benchmark", ROOT)
            if result.skipped:
                sys.exit(f"RAVDESS not found: {result.skipped}")
            reasons = [t.transfer.reason for t in result.turns if t.transfer]
            escalated[label] += "caller_frustrated" in reasons
            voice = [round(t.voice, 2) if t.voice is not None else None for t in runner.last_tracker.turns]
            print(f"actor {actor:>2} {label:<7} transfer={reasons[0] if reasons else '-':<18} "
                  f"frustration={runner.last_tracker.score:.3f} voice={voice} "
                  f"heard={[t.heard for t in result.turns if t.heard is not None]}")
    print(f"escalated for frustration: angry {escalated['angry']}/6, neutral controls {escalated['neutral']}/6")


if __name__ == "__main__":
    main()
