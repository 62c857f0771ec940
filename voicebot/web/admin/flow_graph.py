"""A flow as a drawable graph: nodes in layers by their distance from ``start`` (breadth first),
edges from ``flows.validate.node_edges`` (the moves the engine can make; global handlers' jumps
are listed apart, not drawn from every listening node). Pure: the template draws the SVG."""
from __future__ import annotations

from collections import deque

from voicebot.flows.loader import Flow
from voicebot.flows.validate import node_edges

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 150, 36, 24, 56, 16


def layout(flow: Flow) -> dict:
    """``{width, height, nodes: [{name, type, x, y}], edges: [{src, dst, x1, y1, x2, y2}], handlers}``."""
    edges = [e for e in node_edges(flow.model) if e.path[0] != "handlers"]
    handlers = sorted({(e.path[1], e.dst) for e in node_edges(flow.model) if e.path[0] == "handlers"})
    following: dict[str, list[str]] = {}
    for e in edges:
        following.setdefault(e.src, []).append(e.dst)
    depth = {flow.start: 0}
    queue = deque([flow.start])
    while queue:
        name = queue.popleft()
        for nxt in following.get(name, []):
            if nxt in flow.nodes and nxt not in depth:
                depth[nxt] = depth[name] + 1
                queue.append(nxt)
    last = max(depth.values(), default=0) + 1
    for name in flow.nodes:  # reached only through handlers, or not at all: one row at the bottom
        depth.setdefault(name, last)
    rows: dict[int, list[str]] = {}
    for name in flow.nodes:
        rows.setdefault(depth[name], []).append(name)
    at: dict[str, tuple[int, int]] = {}
    for row, names in rows.items():
        for col, name in enumerate(names):
            at[name] = (MARGIN + col * (NODE_W + GAP_X), MARGIN + row * (NODE_H + GAP_Y))
    nodes = [{"name": n, "type": getattr(flow.nodes[n], "type", "?"), "x": at[n][0], "y": at[n][1],
              "start": n == flow.start} for n in flow.nodes]
    drawn = [{"src": e.src, "dst": e.dst, "x1": at[e.src][0] + NODE_W // 2, "y1": at[e.src][1] + NODE_H,
              "x2": at[e.dst][0] + NODE_W // 2, "y2": at[e.dst][1]} for e in edges if e.dst in at and e.src in at]
    width = max((x for x, _ in at.values()), default=0) + NODE_W + MARGIN
    height = max((y for _, y in at.values()), default=0) + NODE_H + MARGIN
    return {"width": width, "height": height, "nodes": nodes, "edges": _unique(drawn), "handlers": handlers,
            "node_w": NODE_W, "node_h": NODE_H}


def _unique(edges: list[dict]) -> list[dict]:
    seen, out = set(), []
    for e in edges:
        if (e["src"], e["dst"]) not in seen:
            seen.add((e["src"], e["dst"]))
            out.append(e)
    return out
