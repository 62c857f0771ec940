"""Property-based tests of the flow loader and validator: any text, and the demo flow with
parts replaced by arbitrary YAML values, either loads or raises ``FlowError`` with problems."""
from __future__ import annotations

from pathlib import Path

import fuzz_settings  # noqa: F401  (loads the bounded CI profile)
import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from voicebot.errors import FlowError
from voicebot.flows.loader import load_flow_text

DEMO_TEXT = (Path(__file__).resolve().parents[1] / "flows" / "retail_demo.yaml").read_text()
DEMO = yaml.safe_load(DEMO_TEXT)
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=15),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12)


def _load(text: str):
    try:
        return load_flow_text(text)
    except FlowError as error:
        assert error.problems, "a FlowError lists its problems"
        return error


@given(st.text(max_size=400))
@example("nodes: {a: 1}\nstart: a")
@example("a: !!python/object:os.system {}")
@example("- " * 200)
def test_arbitrary_text(text):
    _load(text)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


PATHS = [p for p in _paths(DEMO) if p]


@given(st.lists(st.tuples(st.sampled_from(PATHS), yaml_values, st.booleans()), min_size=1, max_size=3))
def test_demo_flow_with_parts_replaced_or_removed(edits):
    import copy

    data = copy.deepcopy(DEMO)
    for path, value, remove in edits:
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if remove:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    _load(yaml.safe_dump(data, allow_unicode=True))


@pytest.mark.parametrize("text", ["&a [*a]", "&a {k: *a}", "x: &a [1, [2, *a]]"])
def test_self_referencing_alias_is_a_flow_error(text):
    with pytest.raises(FlowError, match="alias refers to a value that contains it"):
        load_flow_text(text)


ALIAS_BOMB = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 6)])  # 300 bytes, 9**5 leaves


def test_alias_expansion_is_bounded():
    with pytest.raises(FlowError, match="(?i)aliases"):
        load_flow_text(ALIAS_BOMB)
    deeper = ALIAS_BOMB + "\n" + "\n".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(6, 12))
    with pytest.raises(FlowError, match="(?i)aliases"):  # 9**11 values: refused before expanding them all
        load_flow_text(deeper)


def test_a_plain_alias_still_works():
    text = DEMO_TEXT.replace('  agent: {intents: [agent], key: "0", goto: agent_transfer}',
                             '  agent: &to_agent {intents: [agent], key: "0", goto: agent_transfer}')
    assert text != DEMO_TEXT
    assert load_flow_text(text).model.handlers.agent.goto == "agent_transfer"


def test_a_collection_used_as_a_key_is_a_flow_error_not_a_crash():
    with pytest.raises(FlowError):
        load_flow_text("? &a [*a]\n: 1")


def test_the_unchanged_demo_flow_loads():
    assert load_flow_text(DEMO_TEXT).model.name == "retail_demo"
