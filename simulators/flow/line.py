"""One replication of a line: built from the plant model, run as fast as possible, summarised as plain data.

>>> from plantmodel.config import parse_config
>>> from plantmodel.plant import PlantConfig
>>> plant = parse_config('''
... enterprise: acme
... sites: [{id: s, areas: [{id: a, lines: [{id: l, flow: [m1, b1, m2], cells: [{id: c, assets: [
...   {id: m1, type: cnc_machine, ideal_cycle_time_s: 10, sim: {cycle_time: 10}},
...   {id: b1, type: buffer, capacity: 2},
...   {id: m2, type: cnc_machine, ideal_cycle_time_s: 20, sim: {cycle_time: 20}}]}]}]}]}]
... ''', PlantConfig)
>>> result = FlowLine(plant.lines()[0], seed=1).run(hours=1)
>>> result["throughput_per_hour"]  # the first part leaves after 10 + 20 s, then one every 20 s
179.0
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import simpy

from plantmodel.catalog import AssetRole
from plantmodel.plant import Asset, Line
from plantmodel.scenario import LineStart
from plantmodel.telemetry import AssetState, Event, EventKind, from_micros
from simulators.flow import transfer
from simulators.flow.buffer import Buffer, SplitBuffer
from simulators.flow.network import build
from simulators.flow.parts import Ledger, Part
from simulators.flow.shifts import Calendar
from simulators.flow.source import Source
from simulators.flow.station import ACTIVE, Station

UNLIMITED_OPERATORS = 1_000_000


class Observer(Protocol):
    """Who watches a line as it runs (the real-time mode turns what it sees into samples)."""

    def on_state(self, station: Station, k: int, old: AssetState, new: AssetState, reason: str | None) -> None: ...
    def on_part(self, station: Station, outcome: str, count: int) -> None: ...
    def on_alarm(self, station: Station, code: str, active: bool) -> None: ...


def _remaining(draw: Any, elapsed: float, tries: int = 1000) -> float:
    """What is left of a duration already `elapsed` long: drawn given it exceeds that; a fresh draw if none does."""
    for _ in range(tries):
        total = float(draw())
        if total > elapsed:
            return total - elapsed
    return float(draw())


def stream(seed: np.random.SeedSequence, i: int) -> np.random.Generator:
    """Random stream `i` of a replication: independent of how many streams or workers there are."""
    return np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, i)))


class EventBudgetExceeded(RuntimeError):
    """A run processed more simulation events than it was allowed."""


class FlowLine:
    def __init__(self, line: Line, seed: np.random.SeedSequence | int, *, record_events: bool = False,
                 start_us: int = 0, observer: Observer | None = None, start: LineStart | None = None) -> None:
        self.env = env = simpy.Environment()
        self.line = line
        seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        sim = line.config.simulation
        self.start_us = start_us
        self.seed = seed
        self.events: list[Event] | None = [] if record_events else None
        self.observer = observer
        self.watching = record_events or observer is not None  # one flag on the hot path
        self.ledger = Ledger(env)
        self.calendar = Calendar(env, sim.calendar, start.origin if start is not None else None)
        self.operators = simpy.Resource(env, capacity=sim.operators if sim.operators else UNLIMITED_OPERATORS)
        self.products = sim.products
        self.mix_rng = stream(seed, 0)
        shares = np.array([p.share for p in self.products] or [1.0])
        self.mix_cdf = np.cumsum(shares / shares.sum())
        self.routes = {p.id: frozenset(p.routing) if p.routing else None for p in self.products}
        self.part_ids = 0
        self.lot_product, self.lot_left = "", 0
        self.stations: list[Station] = []
        self.buffers: dict[str, Buffer] = {}
        flow = [line.asset(a) for a in line.config.flow]
        problems = simulation_gaps(flow)
        if problems:
            raise ValueError("the plant model cannot be simulated: " + "; ".join(problems))
        self.source: Source | None = None
        build(self, flow, lambda i: stream(seed, i))
        if start is not None:
            self._begin_from(start)
        if self.source:
            self.source.start()
        if sim.transfer == "synchronous":
            env.process(transfer.run(self))
        else:
            for station in self.stations:
                station.start()

    def _begin_from(self, start: LineStart) -> None:
        """Initial conditions: parts already waiting in buffers, repairs under way, failure clocks aged."""
        for buffer_id, level in start.buffers.items():
            buffer = self.buffers.get(buffer_id)
            if buffer is None:
                continue  # a variant may have removed it
            for _ in range(int(min(level, buffer.limit))):
                part = self.new_part()
                if isinstance(buffer, SplitBuffer):
                    part.lane = buffer.lane_for(part)
                buffer.items.append(part)
        for station in self.stations:
            s = start.stations.get(station.id)
            if s is None:
                continue
            if s.since_failure_s is not None:
                for clocks in station.clocks:
                    for clock in clocks:
                        clock.age(s.since_failure_s)
            if s.wear_age_s is not None:
                for clocks in station.clocks:
                    for clock in clocks:
                        if clock.wear:
                            clock.renew()
                            clock.age(s.wear_age_s)
            if s.wear_remaining_s is not None:  # an RUL estimate: remaining life drawn around it
                sigma = math.sqrt(math.log1p(s.wear_remaining_cv ** 2))
                for clocks in station.clocks:
                    for clock in clocks:
                        if clock.wear:
                            clock.left = float(s.wear_remaining_s * station.rng.lognormal(-sigma * sigma / 2, sigma))
                            clock.drawn = max(clock.drawn, clock.left)
            if s.down_for_s is not None and station.clocks[0]:
                station.initial_repair_s = _remaining(station.clocks[0][0].draw_ttr, s.down_for_s)

    # --- parts ------------------------------------------------------------------------------------
    def new_part(self, product: str | None = None) -> Part:
        if product is None:
            if self.lot_left <= 0 and self.products:  # draw the next lot's product by the mix
                chosen = self.products[int(np.searchsorted(self.mix_cdf, self.mix_rng.random()))]
                self.lot_product, self.lot_left = chosen.id, chosen.lot_size
            self.lot_left -= 1
            product = self.lot_product
        self.part_ids += 1
        self.ledger.release()
        return Part(self.part_ids, product, self.env.now, self.routes.get(product))

    def finish(self, part: Part) -> None:
        self.ledger.depart(part, good=True)

    def place(self, origin_us: int) -> None:
        """Put simulated time 0 at plant instant `origin_us`: the events' stamps and the shift calendar alike."""
        self.start_us = origin_us
        self.calendar.place(origin_us)

    # --- events -----------------------------------------------------------------------------------
    def _ts(self) -> Any:
        return from_micros(self.start_us + round(self.env.now * 1_000_000))

    def record_state(self, station: Station, k: int, old: AssetState, new: AssetState, reason: str | None) -> None:
        if self.observer is not None:
            self.observer.on_state(station, k, old, new, reason)
        if self.events is None:
            return
        data: dict[str, Any] = {"from": str(old), "to": str(new)}
        if reason:
            data["reason"] = reason
        if station.n > 1:
            data["server"] = k
        self.events.append(Event(station.path, EventKind.STATE_CHANGE, self._ts(), data))

    def record_alarm(self, station: Station, code: str, active: bool) -> None:
        if self.observer is not None:
            self.observer.on_alarm(station, code, active)
        if self.events is None:
            return
        self.events.append(Event(station.path, EventKind.ALARM, self._ts(), {"alarm_code": code, "active": active}))

    def part_event(self, station: Station, outcome: str, count: int) -> None:
        if self.observer is not None:
            self.observer.on_part(station, outcome, count)
        if self.events is not None:
            self.events.append(Event(station.path, EventKind.PART, self._ts(), {"outcome": outcome, "count": count}))

    # --- running ----------------------------------------------------------------------------------
    def run(self, hours: float, warmup_h: float | None = None, max_events: int | None = None) -> dict[str, Any]:
        """Warm-up, then `hours` measured; with `max_events`, stop with `EventBudgetExceeded` once the run has
        processed that many simulation events (a model whose failures or arrivals come far too often)."""
        warmup_h = self.line.config.simulation.warmup_h if warmup_h is None else warmup_h
        budget = [max_events] if max_events is not None else None
        if warmup_h > 0:
            self._run_until(warmup_h * 3600.0, budget, (warmup_h + hours) * 3600.0)
            self.ledger.reset()
            for station in self.stations:
                station.reset_counters()
            for buffer in set(self.buffers.values()):
                buffer.reset_stats()
        self._run_until((warmup_h + hours) * 3600.0, budget, (warmup_h + hours) * 3600.0)
        return self.summary()

    def _run_until(self, until: float, budget: list[int] | None, end: float) -> None:
        env = self.env
        if budget is None:
            env.run(until=until)
            return
        while env.peek() < until:  # what env.run(until) does, counting events against the budget
            if budget[0] <= 0:
                raise EventBudgetExceeded(f"a replication of {self.line.path} passed its budget of simulation "
                                          f"events at {env.now / 3600:.3g} of {end / 3600:.3g} simulated hours: "
                                          "failures, stops or arrivals far more frequent than a real line's "
                                          "(e.g. a tiny mtbf_s)?")
            env.step()
            budget[0] -= 1
        env.run(until=until)

    def summary(self) -> dict[str, Any]:
        now = self.env.now
        ledger = self.ledger.summary()
        span = ledger["span_s"]
        stations: dict[str, Any] = {}
        for st in self.stations:
            st.flush(now)
            active_sum, active_count = st.active_sum, st.active_count
            for k in range(st.n):  # periods still running at the end count up to now
                if st.state[k] in ACTIVE:
                    active_sum += now - max(st.active_since[k], self.ledger.window_start)
                    active_count += 1
            stations[st.id] = {
                "type": str(st.asset.type), "parallel": st.n, "ideal_cycle_s": st.ideal_cycle_s,
                "time_s": {str(s): t for s, t in st.time.items() if t > 0},
                "good": st.good, "scrap": st.scrap, "rework": st.rework, "failures": st.failures,
                "active_period_mean_s": active_sum / active_count if active_count else 0.0,
            }
        buffers = {name: buffer.stats() for name, buffer in self.buffers.items()}
        return {
            "horizon_s": span,
            "throughput_per_hour": ledger["good"] / span * 3600.0 if span else 0.0,
            **ledger,
            "stations": stations,
            "buffers": buffers,
        }


def simulation_gaps(flow: list[Asset]) -> list[str]:
    """What a plant model must say about its stations before they can be simulated (the twin needs less)."""
    gaps = [] if flow else ["a line needs a flow of stations to be simulated"]
    for asset in flow:
        if asset.role is AssetRole.BUFFER:
            continue
        if asset.config.ideal_cycle_time_s is None:  # the simulator's OEE and defaults start from it
            gaps.append(f"{asset.path}: a {asset.type} needs ideal_cycle_time_s (seconds per part"
                        f"{', per trip' if asset.role is AssetRole.TRANSPORT else ''})")
        if asset.role is AssetRole.TRANSPORT and asset.config.capacity is None:
            gaps.append(f"{asset.path}: a {asset.type} needs capacity (parts per trip)")
    return gaps
