"""Conditions and text templates of the flow language, evaluated safely (no ``eval``).

Conditions are a small subset of Python expressions: names and dotted fields
(``order.status``), strings, numbers, ``True``/``False``/``None``, lists, ``and``/``or``/``not``,
comparisons (``== != < <= > >= in not in``) and ``+ - *``. A missing variable or field is
``None``; comparing ``None`` with a number is false rather than an error. Nothing else parses:
no calls, subscripts, lambdas, comprehensions, ``**``; a dotted field only reads a key of a
mapping (``x.__class__`` is ``None``). Bounded: at most ``MAX_CHARS`` characters nested at most
``MAX_DEPTH`` deep, and no text or list longer than ``MAX_SEQUENCE`` is built by ``*``
(a literal one is refused when parsed, one from variables gives ``None``).

Templates fill ``{name}`` or ``{name.field}`` from variables, with optional filters:
``{order.number|digits}`` says "4 1 7 2"; ``|upper``, ``|lower``. Missing values render empty.
"""
from __future__ import annotations

import ast
import operator
import re
from typing import Any, Mapping

TEMPLATE_FIELD = re.compile(r"\{([A-Za-z_]\w*(?:\.\w+)*)(?:\|(\w+))?\}")
FILTERS = {
    "digits": lambda v: " ".join(str(v)),
    "upper": lambda v: str(v).upper(),
    "lower": lambda v: str(v).lower(),
}

_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: b is not None and a in b, ast.NotIn: lambda a, b: b is None or a not in b,
}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
MAX_CHARS = 1000
MAX_DEPTH = 32
MAX_SEQUENCE = 10_000
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.BinOp,
    ast.Compare, ast.Name, ast.Attribute, ast.Constant, ast.List, ast.Tuple, ast.Load,
    *_COMPARE, *_BINARY,
)


def parse_expression(text: str | int | float | bool) -> ast.Expression:
    """Parse a condition or value expression; ``ValueError`` with a readable reason if not allowed."""
    source = str(text).strip()
    if len(source) > MAX_CHARS:
        raise ValueError(f"expression {source[:40]!r}... is {len(source)} characters long; flows allow {MAX_CHARS}")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise ValueError(f"cannot parse expression {text!r}: {getattr(exc, 'msg', 'nested too deeply')}") from None
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"expression {text!r} uses {type(node).__name__}, which flows do not allow")
        if depth > MAX_DEPTH:
            raise ValueError(f"expression {text!r} is nested more than {MAX_DEPTH} deep")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and _literal_repeat(node) > MAX_SEQUENCE:
            raise ValueError(f"expression {text!r} builds a text or list longer than {MAX_SEQUENCE}")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def _literal_repeat(node: ast.BinOp) -> int:
    """The length ``literal * count`` would have (0 unless one side is a text/list literal and
    the other a whole-number literal)."""
    for seq, count in ((node.left, node.right), (node.right, node.left)):
        if isinstance(count, ast.Constant) and type(count.value) is int:
            if isinstance(seq, ast.Constant) and isinstance(seq.value, (str, bytes)):
                return len(seq.value) * count.value
            if isinstance(seq, (ast.List, ast.Tuple)):
                return len(seq.elts) * count.value
    return 0


def expression_names(text: str | int | float | bool) -> set[str]:
    """The root variable names an expression reads (``order.status`` -> ``order``)."""
    tree = parse_expression(text)
    constants = {"True", "False", "None"}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in constants}


def evaluate(text: str | int | float | bool, variables: Mapping[str, Any]) -> Any:
    """The value of an expression over ``variables``."""
    if isinstance(text, (bool, int, float)):
        return text
    return _eval(parse_expression(text).body, variables)


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return {"True": True, "False": False, "None": None}.get(node.id, env.get(node.id))
    if isinstance(node, ast.Attribute):
        return _field(_eval(node.value, env), node.attr)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, env) for e in node.elts]
    if isinstance(node, ast.BoolOp):
        value = None
        for operand in node.values:  # Python semantics: and/or return an operand
            value = _eval(operand, env)
            if bool(value) != isinstance(node.op, ast.And):
                return value
        return value
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not value
        return -value if isinstance(value, (int, float)) else None
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        if isinstance(node.op, ast.Mult) and _too_long(left, right):
            return None
        try:
            return _BINARY[type(node.op)](left, right)
        except TypeError:
            return None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, env)
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError:
                return False
            left = right
        return True
    raise ValueError(f"unsupported expression element {type(node).__name__}")


def _too_long(left: Any, right: Any) -> bool:
    """Would ``left * right`` repeat a text or list past ``MAX_SEQUENCE``?"""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
            return len(seq) * count > MAX_SEQUENCE
    return False


def _field(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    return None


def lookup_path(path: str, variables: Mapping[str, Any]) -> Any:
    """The value at a dotted ``path`` (``customer.name``), or None."""
    root, *rest = path.split(".")
    value = variables.get(root)
    for part in rest:
        value = _field(value, part)
    return value


def render(template: str, variables: Mapping[str, Any]) -> str:
    """Fill ``{name.field|filter}`` placeholders; missing values become ''."""

    def fill(match: re.Match) -> str:
        value = lookup_path(match.group(1), variables)
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        fn = FILTERS.get(match.group(2) or "")
        return fn(value) if fn else str(value)

    return " ".join(TEMPLATE_FIELD.sub(fill, template).split())


def template_names(template: str) -> set[str]:
    """The root variable names a template reads."""
    return {m.group(1).split(".")[0] for m in TEMPLATE_FIELD.finditer(template)}


def template_filters(template: str) -> set[str]:
    """Filter names used in a template (to report unknown ones)."""
    return {m.group(2) for m in TEMPLATE_FIELD.finditer(template) if m.group(2)}
