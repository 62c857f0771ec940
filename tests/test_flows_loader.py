"""Flow loading and validation: every problem reported with file and line; the CLI verbs;
the live FlowStore (reload on change, last good version kept, versions saved, rollback)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from voicebot.errors import FlowError
from voicebot.flows.loader import load_flow
from voicebot.flows.schema import flow_json_schema
from voicebot.session.flow_store import FlowStore
from voicebot.storage.db import Database

DEMO = Path(__file__).resolve().parent.parent / "flows" / "retail_demo.yaml"

MINIMAL = """\
name: mini
start: menu
intents:
  billing: [my bill]
  agent: [agent, a person]
handlers:
  agent: {intents: [agent], key: "0", goto: human}
nodes:
  menu:
    type: menu
    prompt: Say billing.
    options:
      - {key: "1", intent: billing, goto: bye}
  bye:
    type: hangup
    text: Bye.
  human:
    type: transfer
    reason: agent_requested
"""


def write(tmp_path, text, name="flow.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path):
    with pytest.raises(FlowError) as info:
        load_flow(path)
    return info.value.problems


def test_demo_flow_is_valid_and_loads_without_heavy_work():
    # loading a flow is pure: in a fresh interpreter it imports no model, database, web or
    # network library and nothing of voicebot outside flows/ (its speed is no unit-test matter)
    probe = ("import sys; from voicebot.flows.loader import load_flow; load_flow(sys.argv[1]); "
             "print(' '.join(sorted(m for m in sys.modules if '.' not in m or m.startswith('voicebot.'))))")
    done = subprocess.run([sys.executable, "-c", probe, str(DEMO)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    heavy = {"torch", "transformers", "ctranslate2", "faster_whisper", "vosk", "pocketsphinx", "onnxruntime", "librosa",
             "sklearn", "numpy", "sqlalchemy", "requests", "flask", "urllib3", "websocket"}
    assert loaded & heavy == set()
    voicebot = {m for m in loaded if m.startswith("voicebot.")}
    assert voicebot - {"voicebot.errors", "voicebot.flows"} == {m for m in voicebot if m.startswith("voicebot.flows.")}
    flow = load_flow(DEMO)
    assert flow.name == "retail_demo"
    assert set(flow.intents) >= {"order_status", "billing", "returns", "store_hours", "recommendations", "agent"}
    assert all(len(examples) >= 3 for examples in flow.intents.values())


def test_minimal_flow_loads(tmp_path):
    flow = load_flow(write(tmp_path, MINIMAL))
    assert flow.start == "menu" and flow.intents == {"billing": ["my bill"], "agent": ["agent", "a person"]}


def test_every_cross_reference_problem_is_reported_with_its_line(tmp_path):
    path = write(tmp_path, """\
        name: broken
        start: hello
        intents:
          billing: []
        handlers:
          agent: {intents: [humans], goto: human}
        nodes:
          hello:
            type: say
            text: Hi {customer.name}
            next: menu
          menu:
            type: menu
            prompt: Say billing
            options:
              - {intent: billing, goto: nowhere}
              - {key: "1", goto: spin}
          spin:
            type: say
            text: again
            next: spin
          orphan:
            type: hangup
          look:
            type: lookup
            source: weather
            save_as: w
            next: menu
          human:
            type: transfer
            reason: agent
          recorded:
            type: say
            prompt: prompts/missing.wav
            next: human
        """)
    problems = problems_of(path)
    by_message = {p.message: p for p in problems}
    expected = {
        "intent 'billing' has no example phrases": 4,
        "intent 'humans' is used but not declared": 6,
        "node 'hello' uses 'customer' before it is set": 10,
        "node 'menu' goes to unknown node 'nowhere'": 16,
        "loop without exit: spin -> spin": 18,
        "node 'orphan' is unreachable": 22,
        "node 'look' uses unknown data source 'weather'": 26,
        "plays prompt file 'prompts/missing.wav', which does not exist": 34,
    }
    for fragment, line in expected.items():
        matches = [p for m, p in by_message.items() if fragment in m]
        assert matches, f"missing problem {fragment!r} in {[str(p) for p in problems]}"
        assert matches[0].line == line, (fragment, matches[0])
        assert matches[0].file == str(path)


def test_loop_that_can_never_end_is_reported(tmp_path):
    path = write(tmp_path, """\
        name: trap
        start: ask
        nodes:
          ask:
            type: menu
            prompt: Press 1.
            options:
              - {key: "1", goto: ask}
        """)
    assert any("loop without exit" in p.message and "'ask'" in p.message for p in problems_of(path))


def test_slot_set_on_only_one_path_is_used_before_set(tmp_path):
    path = write(tmp_path, """\
        name: slots
        start: ask
        handlers:
          no_match: {goto: tell}
        nodes:
          ask:
            type: ask
            prompt: Your order number?
            slot: number
            slot_type: digits
            next: tell
          tell:
            type: hangup
            text: You said {number}.
        """)
    problems = problems_of(path)
    assert [p.line for p in problems if "uses 'number' before it is set" in p.message] == [14]


def test_schema_errors_and_cross_reference_errors_are_reported_together(tmp_path):
    path = write(tmp_path, """\
        name: mixed
        start: first
        nodes:
          first:
            type: play
            text: hi
          second:
            type: say
            text: hello
            next: nowhere
            colour: blue
          third:
            type: lookup
            source: weather
            save_as: w
            next: first
        """)
    messages = {p.line: p.message for p in problems_of(path)}
    assert "unknown type 'play'" in messages[5]
    assert "unknown key 'colour'" in messages[11]
    assert "unknown node 'nowhere'" in messages[10]
    assert "unknown data source 'weather'" in messages[14]


def test_invalid_yaml_points_at_the_line(tmp_path):
    path = write(tmp_path, "name: x\nstart: a\nnodes:\n  a: {type: hangup\n  b: 1\n")
    (problem,) = problems_of(path)
    assert problem.line in (4, 5) and "invalid YAML" in problem.message


def test_wrong_types_and_missing_fields_are_human_sentences(tmp_path):
    path = write(tmp_path, """\
        name: types
        start: a
        nodes:
          a:
            type: survey
            question: Rate us
            scale: lots
        """)
    messages = [p.message for p in problems_of(path)]
    assert any("node 'a' is missing 'next'" in m for m in messages), messages
    assert any("node 'a' field 'scale'" in m and "integer" in m for m in messages), messages


def test_missing_file_is_a_flow_error(tmp_path):
    problems = problems_of(tmp_path / "nope.yaml")
    assert "cannot read flow file" in problems[0].message


def test_json_schema_covers_every_node_type():
    schema = flow_json_schema()
    text = json.dumps(schema)
    for kind in ("say", "menu", "ask", "lookup", "branch", "set", "transfer", "survey", "hangup"):
        assert f'"const": "{kind}"' in text or f'"enum": ["{kind}"]' in text, kind
    defs = schema["$defs"]
    assert defs["MenuOption"]["properties"]["entity"]["anyOf"][0]["enum"] == ["digits", "order_number", "date", "amount"]
    prefill = defs["AskNode"]["properties"]["prefill"]
    assert prefill["type"] == "boolean" and prefill["default"] is False and prefill["description"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", "flows", *args], capture_output=True, text=True, timeout=120)


def test_cli_validate_reports_problems_and_exits_nonzero(tmp_path):
    good = run_cli("validate", str(DEMO))
    assert good.returncode == 0 and "valid flow 'retail_demo'" in good.stdout
    bad = write(tmp_path, MINIMAL.replace("goto: bye", "goto: gone"))
    result = run_cli("validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}:" in result.stdout and "unknown node 'gone'" in result.stdout
    assert "Traceback" not in result.stderr
    as_json = run_cli("validate", "--json", str(bad))
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert rows and all({"file", "line", "message"} <= set(r) for r in rows)


def test_cli_schema_prints_json_schema():
    result = run_cli("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "voicebot call flow"


def touch_later(path):
    """Give the file a new modification time even on coarse-grained clocks."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_flow_store_reloads_keeps_last_good_and_rolls_back(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'versions.db'}")
    db.create_all()
    path = write(tmp_path, MINIMAL)
    store = FlowStore(path, db)
    first = store.current()
    assert first.nodes["menu"].prompt == "Say billing."

    path.write_text(MINIMAL.replace("Say billing.", "Say billing or press 1."))
    touch_later(path)
    second = store.current()
    assert second.nodes["menu"].prompt == "Say billing or press 1." and store.last_error is None

    path.write_text(MINIMAL.replace("goto: bye", "goto: gone"))  # an invalid edit
    touch_later(path)
    assert store.current() is second
    assert "unknown node 'gone'" in str(store.last_error.problems[0])

    versions = store.versions()
    assert len(versions) == 2  # the invalid edit is not a version
    restored = store.rollback(versions[-1]["id"])
    assert restored.nodes["menu"].prompt == "Say billing."
    assert store.current() is restored and store.last_error is None
    assert "Say billing." in path.read_text()
    assert len(store.versions()) == 3  # the rollback is the newest version


def test_flow_store_first_load_must_be_valid(tmp_path):
    with pytest.raises(FlowError):
        FlowStore(write(tmp_path, "name: x\n"))


def test_the_complete_example_in_the_docs_is_a_valid_flow(tmp_path):
    docs = (Path(__file__).resolve().parent.parent / "docs" / "flows.md").read_text()
    example = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    flow = load_flow(write(tmp_path, example))
    assert flow.name == "pizza" and "ask_order" in flow.nodes


def test_cli_versions_and_rollback(tmp_path):
    env = dict(os.environ, VOICEBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    path = write(tmp_path, MINIMAL)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "voicebot.cli.main", "flows", *args], capture_output=True, text=True, timeout=120, env=env)

    assert cli("versions", "--save", str(path)).returncode == 0
    path.write_text(MINIMAL.replace("Say billing.", "Say billing now."))
    rows = [json.loads(line) for line in cli("versions", "--save", "--json", str(path)).stdout.splitlines()]
    assert len(rows) == 2
    path.write_text("name: mini\nnodes: [")  # a broken edit
    result = cli("rollback", str(path), str(rows[-1]["id"]))
    assert result.returncode == 0, result.stderr
    assert load_flow(path).nodes["menu"].prompt == "Say billing."
    missing = cli("rollback", str(path), "999")
    assert missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_transfer_destinations_must_be_dialable(tmp_path):
    path = write(tmp_path, MINIMAL.replace("reason: agent_requested", "reason: agent_requested\n    destination: Bob's desk"))
    (problem,) = problems_of(path)
    assert "not dialable" in problem.message and problem.line == 20
    for good in ("agent", "+15551234567", "sip:desk@pbx.example.com", "queue:billing"):
        load_flow(write(tmp_path, MINIMAL.replace("reason: agent_requested", f"reason: agent_requested\n    destination: \"{good}\"")))
