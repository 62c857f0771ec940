"""The flow language's expressions keep their "no eval" promise: what a flow author (or a
caller's words in a variable) writes is parsed into a small tree and interpreted; calls,
subscripts, lambdas, comprehensions, ``**``, dunder tricks and huge or deep expressions are
refused (``ValueError`` from the module, ``FlowError`` with the node's name when a flow loads),
never executed."""
from __future__ import annotations

import textwrap

import pytest

from voicebot.errors import FlowError
from voicebot.flows.expressions import MAX_CHARS, MAX_SEQUENCE, evaluate, expression_names, parse_expression, render
from voicebot.flows.loader import load_flow

VARIABLES = {"caller": "+15550001111", "order": {"status": "shipped", "number": "4172"}, "misses": 2, "big": 10 ** 9}


@pytest.mark.parametrize("source, value", [
    ("order.status == 'shipped' and misses >= 2", True),
    ("order.found or 'no'", "no"),  # and/or return an operand, as in Python
    ("not order.found", True),
    ("misses * 3 - 1", 5),
    ("'4' in order.number", True),
    ("order.number in ['4172', '5093']", True),
    ("missing.field.deeper", None),
    ("missing > 3", False),  # None against a number: false, not an error
    ("-misses", -2),
    ("'ab' * 3", "ababab"),
])
def test_the_allowed_language_evaluates(source, value):
    assert evaluate(source, VARIABLES) == value


@pytest.mark.parametrize("source, node", [
    ("__import__('os').system('touch {marker}')", "Call"),
    ("open('{marker}', 'w')", "Call"),
    ("caller.upper()", "Call"),
    ("order['status']", "Subscript"),
    ("().__class__.__bases__[0].__subclasses__()", "Call"),
    ("(lambda: 1)", "Lambda"),
    ("[x for x in 'abc']", "ListComp"),
    ("{x: 1 for x in 'ab'}", "DictComp"),
    ("sum(x for x in [1])", "Call"),
    ("2 ** 100000000", "Pow"),
    ("9 ** 9 ** 9", "Pow"),
    ("misses // 0", "FloorDiv"),
    ("f'{caller}'", "JoinedStr"),
    ("(x := 1)", "NamedExpr"),
    ("1 if misses else 2", "IfExp"),
    ("{'a': 1}", "Dict"),
    ("{1, 2}", "Set"),
    ("[*caller]", "Starred"),
])
def test_forbidden_elements_are_refused_not_run(source, node, tmp_path):
    marker = tmp_path / "ran"
    source = source.replace("{marker}", str(marker))
    with pytest.raises(ValueError, match=f"uses {node}, which flows do not allow"):
        evaluate(source, VARIABLES)
    with pytest.raises(ValueError, match=node):
        expression_names(source)  # what the validator calls when a flow loads
    assert not marker.exists()


def test_dotted_fields_read_mapping_keys_only_never_python_attributes():
    assert evaluate("caller.__class__", VARIABLES) is None
    assert evaluate("caller.__class__.__mro__", VARIABLES) is None
    assert evaluate("order.__class__", VARIABLES) is None
    assert evaluate("order.keys", VARIABLES) is None  # a dict's method is not a field
    assert evaluate("True.__class__", VARIABLES) is None
    assert evaluate("__builtins__", VARIABLES) is None and evaluate("__import__", VARIABLES) is None
    assert render("{caller.__class__}|{__builtins__}|{order.number|digits}", VARIABLES) == "||4 1 7 2"


@pytest.mark.parametrize("source, reason", [
    ("'a' * 1000000000", f"longer than {MAX_SEQUENCE}"),
    ("1000000000 * 'a'", f"longer than {MAX_SEQUENCE}"),
    ("[0] * 1000000000", f"longer than {MAX_SEQUENCE}"),
    ("misses + " * 400 + "1", f"flows allow {MAX_CHARS}"),
    ("not " * 200 + "misses", "nested more than"),
    ("-" * 200 + "1", "nested more than"),
    ("(" * 300 + "1" + ")" * 300, "cannot parse"),
    ("not " * 100000 + "misses", f"flows allow {MAX_CHARS}"),
])
def test_huge_or_deep_expressions_are_refused_when_parsed(source, reason):
    with pytest.raises(ValueError, match=reason):
        parse_expression(source)


def test_repetition_from_variables_past_the_limit_gives_none_without_building_it():
    # a caller's phone number times a large number from a lookup: refused, not allocated
    assert evaluate("caller * big", VARIABLES) is None
    assert evaluate("big * [caller]", VARIABLES) is None
    assert evaluate("caller * 2", VARIABLES) == VARIABLES["caller"] * 2
    assert evaluate("'ab' * 3 * big", VARIABLES) is None
    assert evaluate("big * big", VARIABLES) == 10 ** 18  # numbers stay numbers


def test_a_flow_with_a_forbidden_expression_does_not_load(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: evil
        start: check
        intents:
          agent: [agent, a person, representative]
        nodes:
          check:
            type: branch
            cases:
              - when: "__import__('os').system('touch {marker}')"
                goto: bye
            default: grow
          grow:
            type: set
            values: {{filler: "'a' * 1000000000"}}
            next: bye
          bye:
            type: hangup
            text: Bye.
        """))
    with pytest.raises(FlowError) as info:
        load_flow(path)
    text = "\n".join(str(p) for p in info.value.problems)
    assert "node 'check'" in text and "uses Call, which flows do not allow" in text, text
    assert "node 'grow'" in text and f"longer than {MAX_SEQUENCE}" in text, text
    assert not marker.exists()
