"""Load and validate a flow file: ``load_flow(path) -> Flow`` or ``FlowError`` listing every problem.

Problems carry the file, the 1-based line and a sentence an admin can act on. Validation is
pure Python over the parsed YAML (no models, no database), so a flow loads in milliseconds.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pydantic import TypeAdapter, ValidationError

from voicebot.errors import FlowError
from voicebot.flows import schema as s
from voicebot.flows.validate import check_flow
from voicebot.flows.verify import expand_verify
from voicebot.flows.yamlsource import YamlSyntaxError, line_of, load_with_lines

_NODE = TypeAdapter(s.Node)
NODE_TYPES = ("say", "menu", "ask", "lookup", "branch", "set", "transfer", "survey", "consent", "hangup", "verify")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def to_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "message": self.message}


class Flow:
    """A validated call flow. ``model`` is the pydantic ``FlowModel``; ``source`` the YAML text."""

    def __init__(self, model: s.FlowModel, source: str, path: str, lines: dict):
        self.model = model
        self.source = source
        self.path = path
        self.lines = lines
        self.sha256 = hashlib.sha256(source.encode()).hexdigest()

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def start(self) -> str:
        return self.model.start

    @property
    def nodes(self) -> dict:
        return self.model.nodes

    @property
    def intents(self) -> dict[str, list[str]]:
        """Intent name -> example phrases, for training the understanding layer."""
        return {name: list(examples) for name, examples in self.model.intents.items()}

    @property
    def base_dir(self) -> Path:
        """The folder prompt files are relative to."""
        return Path(self.path).resolve().parent

    def __repr__(self) -> str:
        return f"Flow({self.name!r}, {len(self.nodes)} nodes, {self.path})"


def load_flow(path: str | os.PathLike, known_sources: Iterable[str] = ()) -> Flow:
    """Read, parse and validate the flow file at ``path``.

    ``known_sources`` adds data-source names registered at run time (Python functions).
    Raises ``FlowError`` whose ``problems`` list every ``Problem`` found.
    """
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = Problem(path, 1, f"cannot read flow file: {exc.strerror if isinstance(exc, OSError) else exc}")
        raise FlowError(str(problem), [problem]) from None
    return load_flow_text(text, path, Path(path).resolve().parent, known_sources)


def load_flow_text(text: str, path: str = "<flow>", base_dir: Path | None = None, known_sources: Iterable[str] = ()) -> Flow:
    """Validate flow YAML given as text; ``base_dir`` resolves prompt files (None: not checked)."""
    try:
        data, lines = load_with_lines(text)
    except YamlSyntaxError as exc:
        _fail(path, [Problem(path, exc.line, str(exc))])
    if not isinstance(data, dict):
        _fail(path, [Problem(path, 1, "a flow file must be a YAML mapping with name, start, intents and nodes")])
    problems: list[Problem] = []
    nodes = data.get("nodes")
    broken: set[str] = set()
    if isinstance(nodes, dict):  # check nodes one by one so one bad node hides no other problem
        data = dict(data, nodes=dict(nodes))
        for name, node in nodes.items():
            try:
                _NODE.validate_python(node)
            except ValidationError as exc:
                problems += _schema_problems(exc, data, lines, path, prefix=("nodes", name))
                data["nodes"][name] = {"type": "hangup"}  # stand-in so references to it still resolve
                broken.add(name)
        problems += _broken_references(broken, nodes, lines, path)
        try:  # verify nodes become the ask / lookup / branch nodes the engine runs
            data["nodes"], origin = expand_verify(data["nodes"])
        except ValueError as exc:
            _fail(path, problems + [Problem(path, line_of(lines, ("nodes",)), str(exc))])
        lines = dict(lines)
        lines.update({("nodes", made): line_of(lines, ("nodes", name)) for made, name in origin.items()})
    try:
        model = s.FlowModel.model_validate(data)
    except ValidationError as exc:
        _fail(path, problems + _schema_problems(exc, data, lines, path))
    found = check_flow(model, base_dir, set(known_sources), graph_checks=not broken)
    problems += [Problem(path, line_of(lines, p), msg) for p, msg in found]
    if problems:
        _fail(path, problems)
    return Flow(model, text, path, lines)


def _broken_references(broken: set[str], nodes: dict, lines, path: str) -> list[Problem]:
    """Unknown targets named by nodes that failed the schema (the graph checks skip them)."""
    problems = []
    for name in sorted(broken):
        node = nodes[name] if isinstance(nodes[name], dict) else {}
        targets = [((key,), node.get(key)) for key in ("next", "default", "on_error", "on_fail")]
        for group in ("options", "cases"):
            items = node.get(group) if isinstance(node.get(group), list) else []
            targets += [((group, i, "goto"), item.get("goto")) for i, item in enumerate(items) if isinstance(item, dict)]
        for sub, target in targets:
            if isinstance(target, str) and target not in nodes:
                problems.append(Problem(path, line_of(lines, ("nodes", name) + sub), f"node '{name}' goes to unknown node '{target}'"))
    return problems


def _fail(path: str, problems: list[Problem]):
    problems = sorted(problems, key=lambda p: p.line)
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    raise FlowError(f"{path} is not a valid flow ({count}); first: {problems[0]}", problems)


def _schema_problems(exc: ValidationError, data, lines, path: str, prefix: tuple = ()) -> list[Problem]:
    problems, seen = [], set()
    for err in exc.errors():
        data_path, labels = _data_path(prefix + tuple(err["loc"]), data)
        if err["type"].startswith("union_tag"):  # point at the 'type' key itself when present
            data_path += ("type",)
        message = _human(err, labels)
        key = (data_path, message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(Problem(path, line_of(lines, data_path), message))
    return problems


def _data_path(loc: tuple, data) -> tuple[tuple, list[str]]:
    """Drop pydantic's union-tag steps from ``loc`` so it indexes the YAML data."""
    path, current = [], data
    for step in loc:
        if isinstance(current, dict) and step in current:
            current = current[step]
            path.append(step)
        elif isinstance(current, list) and isinstance(step, int) and step < len(current):
            current = current[step]
            path.append(step)
        elif isinstance(step, str) and step in NODE_TYPES + ("http", "python"):
            continue
        else:
            path.append(step)
            current = None
    return tuple(path), [str(p + 1) if isinstance(p, int) else str(p) for p in path]


def _human(err: dict, labels: list[str]) -> str:
    where = _where(labels)
    kind, field = err["type"], labels[-1] if labels else "file"
    if kind == "missing":
        return f"{_where(labels[:-1]) or 'the flow'} is missing '{field}'"
    if kind == "extra_forbidden":
        return f"{_where(labels[:-1]) or 'the flow'} has unknown key '{field}'"
    if kind == "union_tag_invalid":
        return f"{where} has unknown type {err['input'].get('type')!r}; use one of: {', '.join(NODE_TYPES)}"
    if kind == "union_tag_not_found":
        return f"{where} needs a 'type' (one of: {', '.join(NODE_TYPES)})"
    return f"{where}: {err['msg'].rstrip('.')}, got {err.get('input')!r}"


def _where(labels: list[str]) -> str:
    if len(labels) >= 2 and labels[0] == "nodes":
        rest = ".".join(labels[2:])
        return f"node '{labels[1]}'" + (f" field '{rest}'" if rest else "")
    return ".".join(labels)
