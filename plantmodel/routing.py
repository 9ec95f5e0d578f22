"""The shape of a line's part flow: a serial `flow`, or a network given by `links` (paths whose union is the graph).

A serial line needs no more than its flow, each asset feeding the next. A network lists the paths parts
can take; where paths meet, a station takes from either input (``merge: any``) or one part from each at
once (``merge: assemble``, e.g. a body shop's framing station); where they part, a buffer or station sends
each part down one branch: by its product's routing when that names a branch, otherwise by the node's
``split`` rule (first_free, round_robin, random, shortest_queue). A rework loop is not a link (links never
form a cycle): a station's ``rework_to`` names the buffer upstream that reworked parts go back to.

Pure data: the simulator builds its stores and routers from `Graph`; the plant model refuses a shape
the simulator cannot run, each problem with its key path.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plantmodel.plant import LineConfig


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes in flow order, and each node's neighbours in the order the links name them."""

    nodes: tuple[str, ...]
    succ: Mapping[str, tuple[str, ...]]
    pred: Mapping[str, tuple[str, ...]]

    def reachable(self, start: str) -> set[str]:
        """Every node downstream of `start` (not `start` itself, the graph being acyclic)."""
        seen: set[str] = set()
        todo = list(self.succ.get(start, ()))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self.succ.get(node, ()))
        return seen


def edges(flow: list[str], links: list[list[str]]) -> list[tuple[str, str]]:
    """Each edge once, in the order first written."""
    paths = links or [flow]
    out: dict[tuple[str, str], None] = {}
    for path in paths:
        for a, b in itertools.pairwise(path):
            out[(a, b)] = None
    return list(out)


def graph(flow: list[str], links: list[list[str]]) -> Graph:
    succ: dict[str, list[str]] = {n: [] for n in flow}
    pred: dict[str, list[str]] = {n: [] for n in flow}
    for a, b in edges(flow, links):
        if a in succ and b in pred:
            succ[a].append(b)
            pred[b].append(a)
    return Graph(tuple(flow), {k: tuple(v) for k, v in succ.items()}, {k: tuple(v) for k, v in pred.items()})


def _cycle(g: Graph) -> list[str] | None:
    """A cycle of the graph as a list of nodes, or None."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in g.succ.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for node in g.nodes:
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def check_network(line: LineConfig, is_buffer: Mapping[str, bool], is_transport: Mapping[str, bool],
                  assets: Mapping[str, Any], where: str, problems: list[str]) -> None:
    """What a network (or a rigid transfer line) needs; each problem starts with its key path."""
    flow, links = line.flow, line.links
    in_flow = set(flow)
    for p, path in enumerate(links):
        for i, node in enumerate(path):
            if node not in in_flow:
                problems.append(f"{where}.links[{p}][{i}]: {node!r} is not in the line's flow")
    if links:
        linked = {n for path in links for n in path}
        for i, node in enumerate(flow):
            if node not in linked:
                problems.append(f"{where}.flow[{i}]: {node!r} is on no path of links")
    g = graph(flow, links)
    entry_buffer = line.simulation.source.kind != "unlimited"
    if links:
        for p, path in enumerate(links):
            for i, (a, b) in enumerate(itertools.pairwise(path)):
                if is_buffer.get(a) and is_buffer.get(b):
                    problems.append(f"{where}.links[{p}][{i + 1}]: two buffers in a row")
        cycle = _cycle(g)
        if cycle:
            problems.append(f"{where}.links: a cycle {' > '.join(cycle)}; links go one way (a rework loop is a "
                            "station's rework_to)")
            return
        rework_targets = {a.sim.rework_to for a in assets.values() if a.sim.rework_to}
        for node in flow:
            if is_buffer.get(node) and not g.succ[node]:
                problems.append(f"{where}.links: buffer {node!r} feeds nothing (a buffer cannot end a path)")
            if is_buffer.get(node) and not g.pred[node] and not (entry_buffer and node == flow[0]) \
                    and node not in rework_targets:
                problems.append(f"{where}.links: buffer {node!r} is fed by nothing (only the flow's first asset "
                                "may be a buffer without input, as the entry queue of an arrivals source)")
    for node in flow:
        asset = assets.get(node)
        if asset is None:
            continue
        sim = asset.sim
        at = f"{where}.cells[].assets[{node}].sim"
        if sim.merge == "assemble" and len(g.pred.get(node, ())) < 2:
            problems.append(f"{at}.merge: assemble needs two inputs or more (links into {node!r})")
        if sim.merge == "assemble" and (is_buffer.get(node) or is_transport.get(node)):
            problems.append(f"{at}.merge: only a station assembles")
        if sim.split != "first_free" and is_buffer.get(node) and asset.capacity == 0 and len(g.succ[node]) > 1:
            problems.append(f"{at}.split: a split by {sim.split} holds parts until their branch takes them: "
                            "the buffer needs capacity 1 or more")
        if sim.rework_to is not None:
            target = sim.rework_to
            if target not in in_flow or not is_buffer.get(target):
                problems.append(f"{at}.rework_to: {target!r} is not a buffer of this line's flow")
            elif node not in g.reachable(target):
                problems.append(f"{at}.rework_to: {target!r} is not upstream of {node!r}")
            if sim.rework_rate == 0:
                problems.append(f"{at}.rework_to: no part needs rework (rework_rate is 0)")
        if sim.fleet is not None and not is_transport.get(node):
            problems.append(f"{at}.fleet: only a transport asset (an AGV) has a fleet")
    if line.simulation.transfer == "synchronous":
        at = f"{where}.simulation.transfer"
        if links:
            problems.append(f"{at}: a synchronous transfer line is serial (no links)")
        for i, node in enumerate(flow):
            asset = assets.get(node)
            if asset is None:
                continue
            if is_buffer.get(node):
                problems.append(f"{where}.flow[{i}]: a synchronous transfer line has no buffers ({node!r})")
            elif is_transport.get(node) or asset.sim.transport_time_s > 0:
                problems.append(f"{where}.flow[{i}]: a synchronous transfer line has stations only ({node!r})")
            elif asset.sim.parallel > 1 or asset.sim.batch_size > 1:
                problems.append(f"{where}.flow[{i}]: a synchronous transfer line moves one part per station "
                                f"({node!r} has parallel or batch_size above 1)")
