"""The line's stores and routers, built from its graph (plantmodel.routing): serial lines and networks alike.

Every buffer asset is a store; a station fed directly by stations takes from a hand-over store (capacity
0) in front of it; a station with several inputs takes from whichever has a part (`MultiInput`), or, if
it assembles, one from each at once (`Station.take`). A node with several outputs sends each part down
one branch: a buffer by lanes (`SplitBuffer`) unless its rule is first_free (then the first branch
machine to ask takes the part), a station through a `Router`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from plantmodel.catalog import AssetRole, AssetType
from plantmodel.plant import Asset
from plantmodel.routing import graph
from simulators.flow.buffer import Buffer, SplitBuffer

if TYPE_CHECKING:
    from simulators.flow.line import FlowLine
    from simulators.flow.station import Station


class MultiInput:
    """A station's several inputs (merge: any): it takes from whichever has a part, the first listed first."""

    def __init__(self, env: simpy.Environment, inputs: list[Any], names: list[str]) -> None:
        self.env, self.inputs, self.names = env, inputs, names
        self.last = names[0]  # where the last part taken came from (a vehicle's pickup)

    def get(self) -> Any:
        for inp, name in zip(self.inputs, self.names, strict=True):
            if inp.ready():
                self.last = name
                return inp.get()
        return self.env.process(self._wait())

    def _wait(self) -> Generator[simpy.Event, Any, Any]:
        while True:
            yield simpy.AnyOf(self.env, [inp.arrived() for inp in self.inputs])
            for inp, name in zip(self.inputs, self.names, strict=True):
                if inp.ready():
                    self.last = name
                    part = yield inp.get()
                    return part

    def ready(self) -> bool:
        return any(inp.ready() for inp in self.inputs)

    def arrived(self) -> simpy.Event:
        return simpy.AnyOf(self.env, [inp.arrived() for inp in self.inputs])


class Router:
    """A station's several outputs: the branch its product's routing names, else one by the station's rule.

    first_free: the first branch with room now (else the shortest queue); round_robin: in turn; random;
    shortest_queue: the fewest parts waiting there or in its machine.
    """

    def __init__(self, targets: list[Any], names: list[str], reach: list[frozenset[str]], rule: str,
                 rng: np.random.Generator) -> None:
        self.targets, self.names, self.reach, self.rule, self.rng = targets, names, reach, rule, rng
        self.turn = 0
        self.busy: list[Callable[[], int]] = [lambda: 0] * len(targets)

    def choose(self, part: Any) -> int:
        n = len(self.targets)
        if part.route is not None:
            named = [i for i in range(n) if self.reach[i] & part.route]
            if len(named) == 1:
                return named[0]
        if self.rule == "round_robin":
            self.turn = (self.turn + 1) % n
            return self.turn
        if self.rule == "random":
            return int(self.rng.integers(n))
        if self.rule == "first_free":
            for i, target in enumerate(self.targets):
                if target.has_room():
                    return i
        return min(range(n), key=lambda i: (len(self.targets[i].items) + self.busy[i](), i))

    def put(self, part: Any) -> Any:
        return self.targets[self.choose(part)].put(part)

    def has_room(self) -> bool:
        return any(t.has_room() for t in self.targets)

    @property
    def items(self) -> list[Any]:
        return [p for t in self.targets for p in t.items]


def _holding(station: Station) -> Callable[[], int]:
    """Parts a station's machines hold (taken, not yet handed on): the machines not waiting for parts."""
    from simulators.flow.station import PLANNED, STARVED

    return lambda: sum(1 for s in station.state if s is not STARVED and s is not PLANNED)


def build(line: FlowLine, flow: list[Asset], stream: Callable[[int], np.random.Generator]) -> None:
    """Create `line.stations` (flow order) and `line.buffers` with their stores, routers and the source."""
    from simulators.flow.fleet import Fleet
    from simulators.flow.source import Source
    from simulators.flow.station import Agv, Conveyor, Station

    env, sim = line.env, line.line.config.simulation
    g = graph([a.id for a in flow], line.line.config.links)
    by_id = {a.id: a for a in flow}
    stations_ids = [a.id for a in flow if a.role is not AssetRole.BUFFER]
    extra_streams = iter(range(5000, 6000))
    stores: dict[str, Any] = {}
    for asset in flow:  # buffers first: everything else refers to them
        if asset.role is not AssetRole.BUFFER:
            continue
        succ = g.succ[asset.id]
        if len(succ) > 1 and asset.config.sim.split != "first_free":
            store: Buffer = SplitBuffer(env, asset.config.limit, asset.config.sim.split, list(succ),
                                        stream(next(extra_streams)))
        else:
            store = Buffer(env, asset.config.limit)
        stores[asset.id] = line.buffers[asset.id] = store
    # the entry: arrivals wait in the flow's first buffer, or in an entry queue before the first station
    entry: Buffer | None = None
    if sim.source.kind != "unlimited":
        first = flow[0]
        if first.role is AssetRole.BUFFER:
            entry = stores[first.id]
        else:
            entry = Buffer(env, sim.source.queue_capacity)
            line.buffers["entry"] = entry
        line.source = Source(line, sim.source, stream(1), entry)
    # each station's inputs: buffers (or their lanes), hand-overs from stations
    handover: dict[tuple[str, str], Buffer] = {}
    inputs: dict[str, list[tuple[str, Any]]] = {}
    for sid in stations_ids:
        asset = by_id[sid]
        assemble = asset.config.sim.merge == "assemble"
        ins: list[tuple[str, Any]] = []
        shared: Buffer | None = None
        for pred in g.pred[sid]:
            if by_id[pred].role is AssetRole.BUFFER:
                store = stores[pred]
                if isinstance(store, SplitBuffer):
                    ins.append((pred, store.lane(g.succ[pred].index(sid))))
                else:
                    ins.append((pred, store))
                continue
            if assemble:  # one hand-over per input: the station needs a part from each
                hand = Buffer(env, 0)
                ins.append((pred, hand))
            else:  # stations feeding one station hand over into one place
                if shared is None:
                    shared = Buffer(env, 0)
                    ins.append((pred, shared))
                hand = shared
            handover[(pred, sid)] = line.buffers[f"{pred}>{sid}"] = hand
        if entry is not None and sid == flow[0].id:
            ins.insert(0, ("entry", entry))
        inputs[sid] = ins
    # stations, in flow order (their random streams depend on that order only)
    for sid in stations_ids:
        asset = by_id[sid]
        ins = inputs[sid]
        inbound: Any
        if not ins:
            inbound = None  # unlimited supply
        elif len(ins) == 1 or asset.config.sim.merge == "assemble":
            inbound = ins[0][1]
        else:
            inbound = MultiInput(env, [i for _, i in ins], [n for n, _ in ins])
        targets = []
        for nxt in g.succ[sid]:
            targets.append(stores[nxt] if by_id[nxt].role is AssetRole.BUFFER else handover[(sid, nxt)])
        outbound: Any
        if not targets:
            outbound = None
        elif len(targets) == 1:
            outbound = targets[0]
        else:
            reach = [frozenset({s, *g.reachable(s)}) for s in g.succ[sid]]
            outbound = Router(targets, list(g.succ[sid]), reach, asset.config.sim.split,
                              stream(next(extra_streams)))
        cls: type[Station] = Station
        if asset.role is AssetRole.TRANSPORT:
            cls = Fleet if asset.config.sim.fleet is not None else Agv
        elif asset.spec.is_a(AssetType.CONVEYOR) and asset.config.sim.transport_time_s > 0:
            cls = Conveyor
        station = cls(line, asset, stream(2 + len(line.stations)), inbound, outbound)
        station.inputs = [i for _, i in ins]
        station.node_in = [n for n, _ in ins] or ["supply"]
        station.node_out = list(g.succ[sid]) or ["exit"]
        line.stations.append(station)
    # what shortest_queue counts: the parts each branch's machine holds; and where reworked parts go
    by_station = {st.id: st for st in line.stations}
    for store in stores.values():
        if isinstance(store, SplitBuffer):
            store.busy = [_holding(by_station[s]) for s in store.lane_ids]
    for st in line.stations:
        if isinstance(st.outbound, Router):
            st.outbound.busy = [_holding(by_station[n]) if n in by_station else (lambda: 0)
                                for n in st.outbound.names]
        if st.asset.config.sim.rework_to is not None:
            st.rework_store = stores[st.asset.config.sim.rework_to]
