"""The retail demo's conversation tests (flows/tests/*.yaml) through the real understanding
layer, a real seeded SQLite database and, for audio turns, the real speech recogniser.
Also: a failing scenario prints a readable transcript, and `voicebot flows test` exits 1."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from voicebot.testing.conversations import ConversationRunner  # noqa: E402
from voicebot.testing.scenarios import load_scenarios, scenario_files  # noqa: E402
from voicebot.session.datasources import DataSources  # noqa: E402
from voicebot.storage.db import Database  # noqa: E402
from voicebot.storage.seed import seed_demo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "flows" / "tests"
CASES = [(path, i, scenario.get("name", f"#{i}"))
         for path in scenario_files(SCENARIO_DIR) for i, scenario in enumerate(load_scenarios(path)[1])]


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('conversations') / 'demo.db'}")
    seed_demo(db)
    yield db
    db.engine.dispose()


@pytest.fixture(scope="session")
def runner(demo_db):
    """One understander per session (trained on the demo flow's intents), ASR loaded on first use."""
    from voicebot.asr.registry import load_asr
    from voicebot.nlu.understander import Understander

    flow, _ = load_scenarios(CASES[0][0])
    return ConversationRunner(Understander.from_examples(flow.intents), DataSources.for_flow(flow, demo_db),
                              lambda: load_asr("auto"))


@pytest.mark.parametrize("path,index,name", CASES, ids=[f"{p.stem}:{n}" for p, _, n in CASES])
def test_demo_conversation(runner, path, index, name):
    flow, scenarios = load_scenarios(path)
    result = runner.run(flow, scenarios[index], str(path), path.parent)
    if result.skipped:  # e.g. the evaluation-only RAVDESS folder is not on this machine
        pytest.skip(result.skipped)
    assert result.passed, "\n" + result.report()


def test_a_scenario_with_missing_audio_is_skipped_naming_the_file(runner, tmp_path):
    flow, _ = load_scenarios(CASES[0][0])
    scenario = {"name": "needs a dataset", "turns": [{"dtmf": "3"}, {"audio": "../no-such-dataset/clip.wav"}]}
    result = runner.run(flow, scenario, "inline", tmp_path)
    assert result.skipped == f"audio file not found: {tmp_path / '../no-such-dataset/clip.wav'}"
    assert result.report().startswith("SKIP needs a dataset")
    assert result.to_dict()["skipped"]


def test_the_angry_caller_is_escalated_by_the_voice_not_the_words(runner):
    """The same angry scenario understood from its words alone (voice analysis off) is not
    handed over for frustration: the escalation comes from how it was said."""
    path = SCENARIO_DIR / "retail_angry_audio.yaml"
    flow, scenarios = load_scenarios(path)
    words_only = ConversationRunner(runner.understander, runner.sources, runner.asr_factory, voice=False)
    result = words_only.run(flow, scenarios[0], str(path), path.parent)
    if result.skipped:
        pytest.skip(result.skipped)
    transfers = [t.transfer.reason for t in result.turns if t.transfer]
    assert "caller_frustrated" not in transfers, "\n" + result.report()
    assert [t.heard for t in result.turns if t.heard is not None][0], "the recogniser heard the words"


def test_demo_conversations_cover_the_required_paths():
    names = " ".join(name for _, _, name in CASES).lower()
    for topic in ("order", "billing", "return", "hours", "recommend", "agent", "silence", "nonsense",
                  "wrong order number", "angry", "spoken order number"):
        assert topic in names, topic


def test_a_failing_scenario_reports_the_conversation(runner):
    flow, _ = load_scenarios(CASES[0][0])
    scenario = {"name": "expects the wrong thing", "caller": "+15550001111", "local_time": "2026-11-24T10:00:00",
                "turns": [{"text": "where is my order", "expect": {"intent": "billing", "says": "refund", "ended": True}}]}
    result = runner.run(flow, scenario, "inline")
    assert not result.passed
    report = result.report()
    assert "FAIL expects the wrong thing" in report
    assert "caller: 'where is my order'  [intent order_status]" in report
    assert "bot: Please say or key in your order number." in report
    assert "!! expected intent 'billing', understood 'order_status'" in report
    assert "!! expected the bot to say 'refund'" in report
    assert "!! expected the call to end, it goes on" in report


def test_cli_flows_test_exits_nonzero_with_a_diff(tmp_path):
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(textwrap.dedent(f"""\
        flow: {ROOT / 'flows' / 'retail_demo.yaml'}
        scenarios:
          - name: keys to returns
            caller: "+15559990000"
            turns:
              - dtmf: "3"
                expect: {{says: "within 30 days"}}
          - name: wrong expectation
            caller: "+15559990000"
            turns:
              - dtmf: "3"
                expect: {{says: "we never say this"}}
        """))
    result = subprocess.run([sys.executable, "-m", "voicebot.cli.main", "flows", "test", str(scenarios)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "PASS keys to returns" in result.stdout
    assert "!! expected the bot to say 'we never say this'" in result.stdout
    assert "1 passed, 1 failed" in result.stdout
    assert "Traceback" not in result.stderr
