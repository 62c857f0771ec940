"""Read YAML while remembering the line of every key, so errors can point at the file and line."""
from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster when present
Path = tuple  # a path of keys / list indices into the document, e.g. ("nodes", "menu", "options", 0)


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; ``line`` is 1-based."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse YAML safely; return the data and a map from each key path to its 1-based line."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlSyntaxError(f"invalid YAML: {problem}", line) from None
    lines: dict[Path, int] = {}
    if root is None:
        return None, lines
    try:
        data = _convert(root, (), lines, yaml.constructor.SafeConstructor())  # one per call: not thread-safe
    except yaml.YAMLError as exc:  # bad scalar, e.g. an unknown tag
        raise YamlSyntaxError(f"invalid YAML: {exc}", root.start_mark.line + 1) from None
    return data, lines


def _convert(node: yaml.Node, path: Path, lines: dict[Path, int], constructor) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = path + (key,)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, child, lines, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), lines, constructor) for i, item in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of ``path`` or of its nearest ancestor that has one."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)
