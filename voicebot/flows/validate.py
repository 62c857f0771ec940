"""Cross-reference checks of a flow that the schema alone cannot make.

``check_flow`` returns every problem it finds (never stops at the first): unknown node
referenced, unreachable node, variable used before it is set, intent without examples or not
declared, loop without exit, missing prompt file, unknown data source, bad expressions,
``prefill`` on a slot type that cannot be taken from other words, a sensitive slot that would be
said back (and so stored) or prefilled from words already recorded.
Each problem is (key path in the YAML, human sentence); the loader turns paths into lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from voicebot.flows import schema as s
from voicebot.flows.expressions import FILTERS, expression_names, template_filters, template_names

# Variables every call has (see variables.builtin_variables).
BUILTIN_VARIABLES = frozenset({
    "caller", "channel", "call_id", "time", "weekday", "open_now",
    "intent", "text", "confidence", "emotion", "frustration", "consent", "last_contact",
    "resumed",  # why the bot has the caller again (e.g. transfer_failed: no agent answered), else null
})
# Data sources the runner always provides (voicebot.session.datasources).
BUILTIN_SOURCES = frozenset({"customer_by_phone", "order_by_number", "orders_by_phone", "recommendations", "verify_identity",
                             "request_callback"})
LISTENING = (s.MenuNode, s.AskNode, s.SurveyNode, s.ConsentNode)
TEMPLATE_FIELDS = ("text", "prompt", "reprompt", "confirm", "question", "thanks", "filler", "error_text", "declined_text",
                   "written", "comment_prompt")
TERMINAL = (s.TransferNode, s.HangupNode)


@dataclass(frozen=True)
class Edge:
    """A possible move from ``src`` to ``dst``; ``sets`` are variables surely set on the way."""

    src: str
    dst: str
    path: tuple
    sets: frozenset = frozenset()


def node_edges(flow: s.FlowModel) -> list[Edge]:
    """Every move the engine can make, including jumps of global handlers from listening nodes."""
    edges: list[Edge] = []
    for name, node in flow.nodes.items():
        base = ("nodes", name)
        if isinstance(node, (s.SayNode, s.SetNode)):
            sets = frozenset(node.values) if isinstance(node, s.SetNode) else frozenset()
            edges.append(Edge(name, node.next, base + ("next",), sets))
        elif isinstance(node, s.MenuNode):
            edges += [Edge(name, o.goto, base + ("options", i, "goto")) for i, o in enumerate(node.options)]
        elif isinstance(node, s.AskNode):
            edges.append(Edge(name, node.next, base + ("next",), frozenset({node.slot})))
            if node.on_fail:
                edges.append(Edge(name, node.on_fail, base + ("on_fail",)))
        elif isinstance(node, s.LookupNode):
            edges.append(Edge(name, node.next, base + ("next",), frozenset({node.save_as})))
            if node.on_error:
                edges.append(Edge(name, node.on_error, base + ("on_error",), frozenset({node.save_as})))
        elif isinstance(node, s.BranchNode):
            edges += [Edge(name, c.goto, base + ("cases", i, "goto")) for i, c in enumerate(node.cases)]
            edges.append(Edge(name, node.default, base + ("default",)))
        elif isinstance(node, s.SurveyNode):
            edges.append(Edge(name, node.next, base + ("next",), frozenset({node.slot})))
        elif isinstance(node, s.ConsentNode):
            edges.append(Edge(name, node.next, base + ("next",)))
            if node.on_decline:
                edges.append(Edge(name, node.on_decline, base + ("on_decline",)))
        if isinstance(node, LISTENING):
            for key, handler in _handlers(flow):
                edges.append(Edge(name, handler.goto, ("handlers", key, "goto")))
    return edges


def _handlers(flow: s.FlowModel):
    for key in ("agent", "goodbye", "silence", "no_match", "frustration"):
        handler = getattr(flow.handlers, key)
        if handler is not None:
            yield key, handler


def check_flow(flow: s.FlowModel, base_dir: Path | None, known_sources: set[str] = frozenset(),
               graph_checks: bool = True) -> list[tuple[tuple, str]]:
    """All cross-reference problems of ``flow`` as (key path, sentence) pairs.

    ``graph_checks=False`` skips reachability, loop and variable analysis (used when some nodes
    failed the schema: their missing edges would cause false alarms)."""
    problems: list[tuple[tuple, str]] = []
    edges = node_edges(flow)
    nodes = flow.nodes

    if flow.start not in nodes:
        problems.append((("start",), f"start node '{flow.start}' does not exist"))
    for edge in edges:
        if edge.dst not in nodes:
            where = f"node '{edge.src}'" if edge.path[0] == "nodes" else f"handler '{edge.path[1]}'"
            problems.append((edge.path, f"{where} goes to unknown node '{edge.dst}'"))
    problems = _dedupe(problems)  # handler edges repeat once per listening node

    problems += _check_intents(flow)
    problems += _check_resources(flow, base_dir, set(known_sources))
    problems += _check_prefill(flow)
    problems += _check_confirmation(flow)
    problems += _check_sensitive(flow)
    problems += _check_survey_comments(flow)
    if not graph_checks:
        return problems
    reachable = _reachable(flow.start, edges, nodes)
    for name in nodes:
        if name not in reachable and flow.start in nodes:
            problems.append((("nodes", name), f"node '{name}' is unreachable: nothing leads to it from '{flow.start}'"))

    problems += _check_variables(flow, edges, reachable)
    problems += _check_loops(flow, edges, reachable)
    return problems


def _dedupe(problems):
    seen, out = set(), []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _reachable(start: str, edges: list[Edge], nodes) -> set[str]:
    if start not in nodes:
        return set()
    out_edges: dict[str, list[str]] = {}
    for e in edges:
        out_edges.setdefault(e.src, []).append(e.dst)
    seen, todo = {start}, [start]
    while todo:
        for dst in out_edges.get(todo.pop(), []):
            if dst in nodes and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    return seen


def _check_intents(flow: s.FlowModel):
    for intent, examples in flow.intents.items():
        if not [e for e in examples if str(e).strip()]:
            yield ("intents", intent), f"intent '{intent}' has no example phrases"
    used = []
    for name, node in flow.nodes.items():
        if isinstance(node, s.MenuNode):
            keys = [o.key for o in node.options if o.key]
            for key in {k for k in keys if keys.count(k) > 1}:
                yield ("nodes", name, "options"), f"menu '{name}' uses key {key} for more than one option"
            for i, option in enumerate(node.options):
                if not (option.key or option.intent or option.phrases or option.entity):
                    yield ("nodes", name, "options", i), f"option {i + 1} of menu '{name}' has no key, intent, phrases or entity"
                if option.intent:
                    used.append((("nodes", name, "options", i, "intent"), option.intent))
    for key, handler in _handlers(flow):
        for i, intent in enumerate(getattr(handler, "intents", [])):
            used.append((("handlers", key, "intents", i), intent))
    for path, intent in used:
        if intent not in flow.intents:
            yield path, f"intent '{intent}' is used but not declared under 'intents' with example phrases"


def _uses(node) -> list[tuple[tuple, set[str], set[str]]]:
    """(field path, names read, names the node itself sets before reading) of one node."""
    out = []
    templates = {f: getattr(node, f) for f in TEMPLATE_FIELDS if isinstance(getattr(node, f, None), str)}
    if isinstance(node, s.SayNode) and node.prompt:
        templates.pop("prompt")  # a file name, not a template
    own = {node.slot} if isinstance(node, (s.AskNode, s.SurveyNode)) else set()
    for field, text in templates.items():
        out.append(((field,), template_names(text), own if field in ("confirm", "thanks", "comment_prompt") else set()))
    if isinstance(node, s.LookupNode):
        for key, text in node.params.items():
            out.append((("params", key), template_names(text), set()))
    if isinstance(node, s.BranchNode):
        for i, case in enumerate(node.cases):
            out.append((("cases", i, "when"), expression_names(case.when), set()))
    if isinstance(node, s.SetNode):
        for key, value in node.values.items():
            out.append((("values", key), expression_names(value), set()))
    return out


def _check_variables(flow: s.FlowModel, edges: list[Edge], reachable: set[str]):
    problems = []
    for name, node in flow.nodes.items():  # syntax first: a bad expression cannot be analysed
        for field, text in _expressions(node):
            try:
                expression_names(text)
            except ValueError as exc:
                problems.append((("nodes", name) + field, f"node '{name}': {exc}"))
        for field in TEMPLATE_FIELDS:
            value = getattr(node, field, None)
            if isinstance(value, str):
                for bad in template_filters(value) - set(FILTERS):
                    problems.append((("nodes", name, field), f"node '{name}' uses unknown filter '|{bad}' (known: {', '.join(FILTERS)})"))
    if problems:
        return problems
    universe = set(BUILTIN_VARIABLES) | {v for e in edges for v in e.sets}
    defined = {n: set(universe) for n in reachable}
    if flow.start in defined:
        defined[flow.start] = set(BUILTIN_VARIABLES)
    changed = True
    while changed:  # must-be-set analysis: a variable counts only if every path sets it
        changed = False
        for n in reachable:
            if n == flow.start:
                continue
            incoming = [defined[e.src] | e.sets for e in edges if e.dst == n and e.src in reachable]
            new = set.intersection(*incoming) if incoming else set(BUILTIN_VARIABLES)
            if new != defined[n]:
                defined[n], changed = new, True
    for name in reachable:
        for field, names, own in _uses(flow.nodes[name]):
            for var in sorted(names - defined[name] - own):
                problems.append((("nodes", name) + field,
                                 f"node '{name}' uses '{var}' before it is set on every path that leads here"))
    return problems


def _expressions(node):
    if isinstance(node, s.BranchNode):
        return [(("cases", i, "when"), c.when) for i, c in enumerate(node.cases)]
    if isinstance(node, s.SetNode):
        return [(("values", k), v) for k, v in node.values.items()]
    return []


def _check_loops(flow: s.FlowModel, edges: list[Edge], reachable: set[str]):
    nodes = flow.nodes
    reverse: dict[str, list[str]] = {}
    for e in edges:
        reverse.setdefault(e.dst, []).append(e.src)
    can_end = {n for n in nodes if isinstance(nodes[n], TERMINAL)}
    todo = list(can_end)
    while todo:
        for src in reverse.get(todo.pop(), []):
            if src not in can_end:
                can_end.add(src)
                todo.append(src)
    stuck = sorted(n for n in reachable if n not in can_end)
    if stuck:
        yield ("nodes", stuck[0]), (f"loop without exit: from {', '.join(repr(n) for n in stuck)} the call can never "
                                    "reach a transfer or hangup")
    # A cycle of say/set nodes never waits for the caller and never decides to leave.
    instant = {n for n, node in nodes.items() if isinstance(node, (s.SayNode, s.SetNode))}
    reported: set[str] = set()
    for start in sorted(instant & reachable):
        seen, current = [], start
        while current in instant and current not in seen:
            seen.append(current)
            current = nodes[current].next
        if current == start and start not in reported:
            reported.update(seen)
            yield ("nodes", start), f"loop without exit: {' -> '.join(seen + [start])} repeats forever without waiting or branching"


DESTINATION = re.compile(r"^(agent|\+\d{6,15}|(sip|client|queue):\S+|.*\{.+\}.*)$")  # what the telephony side can dial


def _check_resources(flow: s.FlowModel, base_dir: Path | None, known_sources: set[str]):
    sources = BUILTIN_SOURCES | set(flow.data_sources) | known_sources
    for i, name in enumerate(flow.handlers.frustration.except_at if flow.handlers.frustration else []):
        if name not in flow.nodes:
            yield ("handlers", "frustration", "except_at", i), f"handler 'frustration' names unknown node '{name}' in except_at"
    if not DESTINATION.match(flow.transfer_destination):
        yield ("transfer_destination",), (f"transfer_destination {flow.transfer_destination!r} is not dialable: use agent, "
                                          "+15551234567, sip:user@host, client:name or queue:name")
    for name, node in flow.nodes.items():
        if isinstance(node, s.LookupNode) and node.source not in sources:
            yield ("nodes", name, "source"), (f"node '{name}' uses unknown data source '{node.source}' "
                                              f"(known: {', '.join(sorted(sources))}; declare others under 'data_sources')")
        if isinstance(node, s.SayNode) and node.prompt and base_dir is not None:
            if not (base_dir / node.prompt).is_file():
                yield ("nodes", name, "prompt"), f"node '{name}' plays prompt file '{node.prompt}', which does not exist"
        if isinstance(node, s.TransferNode) and node.destination and not DESTINATION.match(node.destination):
            yield ("nodes", name, "destination"), (f"node '{name}' transfers to {node.destination!r}, which is not dialable: "
                                                   "use agent, +15551234567, sip:user@host, client:name or queue:name")
        if isinstance(node, s.AskNode) and node.pattern:
            try:
                re.compile(node.pattern)
            except re.error as exc:
                yield ("nodes", name, "pattern"), f"node '{name}' has an invalid pattern: {exc}"


def _check_confirmation(flow: s.FlowModel):
    keyable = ("digits", "order_number", "amount", "yesno")
    for name, node in flow.nodes.items():
        if not isinstance(node, s.AskNode):
            continue
        if node.confirm_below is not None and not node.confirm:
            yield ("nodes", name, "confirm_below"), f"node '{name}' has confirm_below but no confirm question to ask"
        if node.keypad_prompt and node.slot_type not in keyable:
            yield ("nodes", name, "keypad_prompt"), (f"node '{name}' has a keypad_prompt, but a {node.slot_type} slot cannot be "
                                                     f"keyed in; keypad prompts work for {', '.join(keyable)} slots")


def _check_prefill(flow: s.FlowModel):
    value_types = get_args(s.ValueType)
    for name, node in flow.nodes.items():
        if isinstance(node, s.AskNode) and node.prefill and node.slot_type not in value_types:
            yield ("nodes", name, "prefill"), (f"node '{name}' has prefill, but a {node.slot_type} slot cannot be taken from "
                                               f"the words that led here; prefill works for {', '.join(value_types)} slots")


def _check_sensitive(flow: s.FlowModel):
    """A sensitive slot is never said back (every prompt is stored in the transcript) and never
    prefilled (the words it would come from are already recorded)."""
    secret = {node.slot for node in flow.nodes.values() if isinstance(node, s.AskNode) and node.sensitive}
    for name, node in flow.nodes.items():
        if isinstance(node, s.AskNode) and node.sensitive and node.prefill:
            yield ("nodes", name, "prefill"), (f"node '{name}' is sensitive and has prefill: a sensitive value must come "
                                               "from its own turn, which is not recorded, not from words already recorded")
        for field in TEMPLATE_FIELDS:
            value = getattr(node, field, None)
            if not isinstance(value, str) or (field == "prompt" and isinstance(node, s.SayNode)):
                continue
            for slot in sorted(template_names(value) & secret):
                yield ("nodes", name, field), (f"node '{name}' says the sensitive slot '{slot}' in its {field}: what the bot "
                                               "says is stored in the transcript; confirm it without repeating it")


def _check_survey_comments(flow: s.FlowModel):
    """A survey's comment prompt says something, and its ``<slot>_comment`` belongs to it alone."""
    taken = {n.slot for n in flow.nodes.values() if isinstance(n, (s.AskNode, s.SurveyNode))}
    taken |= {k for n in flow.nodes.values() if isinstance(n, s.SetNode) for k in n.values}
    for name, node in flow.nodes.items():
        if not isinstance(node, s.SurveyNode) or node.comment_prompt is None:
            continue
        if not node.comment_prompt.strip():
            yield ("nodes", name, "comment_prompt"), f"node '{name}' has an empty comment_prompt: say what the caller may comment on"
        if f"{node.slot}_comment" in taken:
            yield ("nodes", name, "comment_prompt"), (f"node '{name}' keeps its comment in '{node.slot}_comment', which "
                                                      "another node also sets; rename one of the slots")
