"""A SimPy model of a serial production line: stations, buffers and an outfeed AGV.

Parts flow along the line's ``flow``. A station takes a part from upstream (starved while none is
there), processes it for a random cycle time (down while a failure is repaired), and hands it on
(blocked while downstream is full). Two stations with no buffer between them hand over through a
single transfer position. The first station has an unlimited supply; the AGV carries finished parts
away in loads.

The model does no I/O: everything it observes goes to `outbox` as `Sample`s stamped in microseconds
by `clock`, and whoever drives it (paced to the wall clock, or as fast as possible) drains them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from plantmodel.catalog import AssetType, signal_spec
from plantmodel.plant import STATION_TYPES, Asset, Line
from plantmodel.telemetry import AssetState, Sample, Value, from_micros
from simulators.signals import SignalModel, signal_model_for

Process = Generator[simpy.Event, Any, None]
FAILURE_CODE = "F-GENERIC"  # the reason the planning model (simulators.flow) gives an mtbf_s/mttr_s failure


class LineModel:
    """The whole line in one SimPy environment; several models coexist without shared state."""

    def __init__(self, line: Line, seed: int | None = None, time_scale: float = 1.0) -> None:
        self.env = simpy.Environment()
        self.line = line
        self.time_scale = time_scale  # wall seconds per simulated second, for timestamps
        self.start_us = 0
        self.outbox: dict[tuple[str, str, int], Sample] = {}
        seed = line.config.simulation.seed if seed is None else seed
        self.assets: dict[str, AssetModel] = {}
        links: list[simpy.Store | None] = [None]  # a station's input: None means unlimited supply
        flow = [line.asset(asset_id) for asset_id in line.config.flow]
        for i, asset in enumerate(flow):
            rng = np.random.default_rng([seed, i])
            if asset.type is AssetType.BUFFER:
                buffer = Buffer(self, asset, rng)
                self.assets[asset.path] = buffer
                links[-1] = buffer.store
                continue
            downstream_is_buffer = i + 1 < len(flow) and flow[i + 1].type is AssetType.BUFFER
            output = None if i + 1 == len(flow) or downstream_is_buffer else simpy.Store(self.env, capacity=1)
            links.append(output)
            model_cls = Agv if asset.type is AssetType.AGV else Station
            self.assets[asset.path] = model_cls(self, asset, rng, upstream=len(links) - 2, links=links)
        for model in self.assets.values():
            model.start()

    def now_us(self) -> int:
        return self.start_us + round(self.env.now * self.time_scale * 1_000_000)

    def emit(self, asset: Asset, signal: str, value: Value) -> None:
        """Record an observation; two at the same instant for the same signal keep the last."""
        spec = signal_spec(asset.type, signal)
        assert spec is not None, f"a {asset.type} has no signal {signal!r}"
        ts = self.now_us()
        self.outbox[(asset.path, signal, ts)] = Sample(asset.path, signal, value, spec.unit, from_micros(ts))

    def drain(self) -> list[Sample]:
        samples = list(self.outbox.values())
        self.outbox.clear()
        return samples

    def snapshot(self) -> list[Sample]:
        """Every signal's current value, stamped now: what a freshly started server exposes."""
        self.outbox.clear()
        for model in self.assets.values():
            model.observe_all()
        return self.drain()

    def run_until(self, t: float) -> None:
        if t > self.env.now:
            self.env.run(until=t)


class AssetModel:
    def __init__(self, model: LineModel, asset: Asset, rng: np.random.Generator) -> None:
        self.model, self.asset, self.rng, self.env = model, asset, rng, model.env
        self.signals: SignalModel = signal_model_for(asset, rng)
        self.state = AssetState.IDLE
        self.parts_good = 0
        self.parts_scrap = 0
        self.alarm_code = "none"

    def start(self) -> None:
        self.env.process(self.sample_signals())

    def set_state(self, state: AssetState) -> None:
        if state is not self.state:
            self.state = state
            self.model.emit(self.asset, "state", str(state))

    def alarm(self, code: str) -> None:
        """Failures carry a reason code, so downtime can be attributed; 'none' when the alarm clears."""
        self.alarm_code = code
        self.model.emit(self.asset, "alarm_code", code)

    def count(self, good: bool) -> None:
        if good:
            self.parts_good += 1
            self.model.emit(self.asset, "parts_good", self.parts_good)
        else:
            self.parts_scrap += 1
            self.model.emit(self.asset, "parts_scrap", self.parts_scrap)

    def observe_all(self) -> None:
        names = {s.name for s in self.asset.signals}
        for name, value in (("state", str(self.state)), ("parts_good", self.parts_good),
                            ("parts_scrap", self.parts_scrap), ("alarm_code", self.alarm_code)):
            if name in names:
                self.model.emit(self.asset, name, value)
        for name, value in self.signals.read(self.state, 0.0).items():
            self.model.emit(self.asset, name, value)

    def sample_signals(self) -> Process:
        period = self.model.line.config.simulation.signal_period_s
        while True:
            yield self.env.timeout(period)
            for name, value in self.signals.read(self.state, period).items():
                self.model.emit(self.asset, name, value)


class Buffer(AssetModel):
    def __init__(self, model: LineModel, asset: Asset, rng: np.random.Generator) -> None:
        super().__init__(model, asset, rng)
        assert asset.config.capacity is not None
        self.store = LevelStore(model.env, asset.config.capacity, self.on_level)

    def on_level(self, level: int) -> None:
        self.model.emit(self.asset, "level", level)

    def observe_all(self) -> None:
        self.model.emit(self.asset, "level", len(self.store.items))
        self.model.emit(self.asset, "capacity", self.store.capacity)

    def start(self) -> None:  # a buffer changes only when parts move
        pass


class LevelStore(simpy.Store):
    """A store that reports its level whenever a part enters or leaves."""

    def __init__(self, env: simpy.Environment, capacity: int, on_level: Callable[[int], None]) -> None:
        super().__init__(env, capacity=capacity)
        self._on_level = on_level

    def _do_put(self, event: Any) -> bool | None:
        result = super()._do_put(event)
        self._on_level(len(self.items))
        return result

    def _do_get(self, event: Any) -> bool | None:
        result = super()._do_get(event)
        self._on_level(len(self.items))
        return result


class Station(AssetModel):
    """A machine that processes one part at a time; fails after random operating time."""

    def __init__(self, model: LineModel, asset: Asset, rng: np.random.Generator, *, upstream: int,
                 links: list[simpy.Store | None]) -> None:
        super().__init__(model, asset, rng)
        assert asset.type in STATION_TYPES
        self.links, self.upstream = links, upstream
        sim = asset.config.sim
        self.cycle_mean = sim.cycle_time_s or asset.config.ideal_cycle_time_s or 1.0
        self.ttf = rng.exponential(sim.mtbf_s) if sim.mtbf_s else None

    def start(self) -> None:
        super().start()
        self.env.process(self.work())

    def cycle_time(self) -> float:
        cv = self.asset.config.sim.cycle_time_cv
        if cv == 0:
            return self.cycle_mean
        sigma = np.sqrt(np.log1p(cv * cv))  # lognormal with the configured mean and CV
        return float(self.rng.lognormal(np.log(self.cycle_mean) - sigma * sigma / 2, sigma))

    def work(self) -> Process:
        sim = self.asset.config.sim
        source, sink = self.links[self.upstream], self.links[self.upstream + 1]
        while True:
            if source is not None:
                self.set_state(AssetState.STARVED)
                yield source.get()
            self.set_state(AssetState.PRODUCING)
            remaining = self.cycle_time()
            duration = remaining
            while self.ttf is not None and self.ttf < remaining:
                yield self.env.timeout(self.ttf)
                remaining -= self.ttf
                self.set_state(AssetState.DOWN)
                self.alarm(FAILURE_CODE)
                yield self.env.timeout(self.rng.exponential(sim.mttr_s))
                self.alarm("none")
                self.ttf = self.rng.exponential(sim.mtbf_s) if sim.mtbf_s else None
                self.set_state(AssetState.PRODUCING)
            if self.ttf is not None:
                self.ttf -= remaining
            yield self.env.timeout(remaining)
            good = self.rng.random() >= sim.scrap_rate
            self.count(good)
            for name, value in self.signals.on_part(duration).items():
                self.model.emit(self.asset, name, value)
            if good and sink is not None:
                self.set_state(AssetState.BLOCKED)
                yield sink.put(object())


class Agv(AssetModel):
    """Carries full loads from the end of the line to the warehouse and drives back empty.

    Like a VDA 5050 vehicle it reports its whole state periodically, not on every change.
    """

    def __init__(self, model: LineModel, asset: Asset, rng: np.random.Generator, *, upstream: int,
                 links: list[simpy.Store | None]) -> None:
        super().__init__(model, asset, rng)
        self.source = links[upstream]
        self.capacity = asset.config.capacity or 1
        self.trip_s = asset.config.ideal_cycle_time_s or 60.0
        self.route_m = asset.config.sim.route_length_m
        self.position = 0.0
        self.battery = 100.0
        self.mission = "wait_for_load"
        self.moving_since: float | None = None
        self.direction = 1

    def start(self) -> None:
        super().start()
        self.env.process(self.work())

    def set_state(self, state: AssetState) -> None:
        self.state = state  # reported by the periodic status message only

    def count(self, good: bool) -> None:
        self.parts_good += 1

    def _pos(self) -> float:
        if self.moving_since is None:
            return self.position
        travelled = (self.env.now - self.moving_since) / self.trip_s * self.route_m
        return min(self.route_m, max(0.0, self.position + self.direction * travelled))

    def observe_all(self) -> None:
        values: dict[str, Value] = {
            "state": str(self.state), "parts_good": self.parts_good, "battery": round(self.battery, 2),
            "position": round(self._pos(), 2), "mission": self.mission,
        }
        for name, value in values.items():
            self.model.emit(self.asset, name, value)

    def sample_signals(self) -> Process:
        period = self.model.line.config.simulation.signal_period_s
        self.observe_all()  # a vehicle reports its state as soon as it connects
        while True:
            yield self.env.timeout(period)
            drain = 0.02 if self.moving_since is not None else -0.05  # charges while parked at the line
            self.battery = min(100.0, max(0.0, self.battery - drain * period))
            self.observe_all()

    def work(self) -> Process:
        assert self.source is not None
        while True:
            self.set_state(AssetState.STARVED)
            self.mission = "wait_for_load"
            load = 0
            while load < self.capacity:
                yield self.source.get()
                load += 1
            self.set_state(AssetState.PRODUCING)
            for mission, direction in (("deliver", 1), ("return", -1)):
                self.mission, self.direction, self.moving_since = mission, direction, self.env.now
                yield self.env.timeout(self.trip_s * float(self.rng.uniform(0.95, 1.1)))
                self.position, self.moving_since = (self.route_m if direction > 0 else 0.0), None
                if direction > 0:
                    for _ in range(load):
                        self.count(True)
