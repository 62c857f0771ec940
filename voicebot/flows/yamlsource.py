"""Read YAML while remembering the line of every key, so errors can point at the file and line.

Hostile input is refused with ``YamlSyntaxError``, never followed: an alias that refers to a
value containing it ("&a [*a]"), and files that expand to more than ``MAX_VALUES`` values once
aliases are followed ("billion laughs": a few hundred bytes of nested aliases can stand for
billions of values)."""
from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster when present
Path = tuple  # a path of keys / list indices into the document, e.g. ("nodes", "menu", "options", 0)
MAX_VALUES = 20_000  # values after expanding aliases; the demo flow has about 700


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
        data = _Converter(lines).convert(root, ())
    except yaml.YAMLError as exc:  # bad scalar, e.g. an unknown tag
        raise YamlSyntaxError(f"invalid YAML: {exc}", root.start_mark.line + 1) from None
    return data, lines


class _Converter:
    """Turns a composed YAML node graph into plain data, counting values and refusing cycles."""

    def __init__(self, lines: dict[Path, int]):
        self.lines = lines
        self.constructor = yaml.constructor.SafeConstructor()  # one per call: not thread-safe
        self.values = 0
        self.open: set[int] = set()  # ids of the collections being converted (the current path)

    def convert(self, node: yaml.Node, path: Path) -> Any:
        line = node.start_mark.line + 1
        self.lines.setdefault(path, line)
        self.values += 1
        if self.values > MAX_VALUES:
            raise YamlSyntaxError(f"invalid YAML: more than {MAX_VALUES} values once aliases are expanded "
                                  "(too many aliases of aliases?)", line)
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return self.constructor.construct_object(node, deep=True)
        if id(node) in self.open:
            raise YamlSyntaxError("invalid YAML: an alias refers to a value that contains it", line)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
            out = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                key = (self.constructor.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode)
                       else f"<a {key_node.id} used as a key, line {key_line}>")
                child = path + (key,)
                self.lines[child] = key_line
                out[key] = self.convert(value_node, child)
            return out
        finally:
            self.open.discard(id(node))


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of ``path`` or of its nearest ancestor that has one."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)
