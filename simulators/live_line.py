"""The line in real time: the planning model (simulators.flow) watched, its observations turned into samples.

One model serves every mode: the live plant behind OPC-UA and MQTT (paced to the plant clock), labelled data
sets (`sim signals`) and benchmarks (as fast as possible). `simulators.flow.FlowLine` decides what happens
(parts, buffers, failures, shifts); this module watches it and writes what a machine's controller would
publish: each station's state, part counters and alarm code when they change, buffer levels when parts
move, and physical signals every `signal_period_s` (simulators.signals, the one signal model), worn
bearings and tools included, with the injected faults (simulators.flow.sensors) and their labels. The AGV,
like a VDA 5050 vehicle, reports its whole state periodically, not on every change.

The model does no I/O: everything it observes goes to `outbox` as `Sample`s stamped in simulated time
(microseconds from `start_us`, the run's origin), and whoever drives it (paced to the plant clock, or as fast
as possible) drains them.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from plantmodel.catalog import AssetRole
from plantmodel.plant import Asset, Line
from plantmodel.telemetry import AssetState, Sample, Value, from_micros
from simulators.flow.buffer import Buffer
from simulators.flow.line import FlowLine, stream
from simulators.flow.sensors import FaultInjector, RulTruth, plan_faults
from simulators.flow.station import Agv, Station
from simulators.signals import CncSignals, SignalModel, signal_model_for

Process = Generator[simpy.Event, Any, None]
FAILURE_CODE = "F-GENERIC"  # the reason of a failure configured by mtbf_s/mttr_s
_COUNTERS = {"good": "parts_good", "scrap": "parts_scrap", "rework": "parts_rework"}
LIVE_FAULT_HORIZON_S = 30 * 86_400.0


class LineModel:
    """The whole line in one SimPy environment; several models coexist without shared state."""

    def __init__(self, line: Line, seed: int | None = None, *, signal_period_s: float | None = None,
                 record_events: bool = False, record_rul: bool = False, start_us: int | None = None) -> None:
        """`signal_period_s` overrides the line's; `record_events` keeps the flow model's events (`flow.events`),
        `record_rul` the remaining life of every wearing bearing at each signal period (`rul`); `start_us` places
        the run on plant time (`place`)."""
        self.line = line
        self.start_us = 0  # the plant time of simulated time 0 (the run's origin)
        self.signal_period_s = signal_period_s or line.config.simulation.signal_period_s
        self.rul: list[RulTruth] | None = [] if record_rul else None
        self.outbox: dict[tuple[str, str, int], Sample] = {}
        seed = line.config.simulation.seed if seed is None else seed
        self.flow = FlowLine(line, seed, observer=self, record_events=record_events)
        self.env = self.flow.env
        seeds = np.random.SeedSequence(seed)
        self.assets: dict[str, AssetModel] = {}
        self._by_station: dict[int, StationModel] = {}
        for i, station in enumerate(self.flow.stations):
            model_cls = AgvModel if isinstance(station, Agv) else StationModel
            view = model_cls(self, station, stream(seeds, 20_000 + i))
            self._by_station[id(station)] = view
            self.assets[station.path] = view
        for asset in line.assets():
            if asset.role is AssetRole.BUFFER:
                self.assets[asset.path] = BufferModel(self, asset, self.flow.buffers[asset.id])
        self.assets = {a.path: self.assets[a.path] for a in line.assets() if a.path in self.assets}
        sim = line.config.simulation
        fault_rng = stream(seeds, 10_000)
        sensors = {path: view.signals.sensors() for path, view in self.assets.items()}
        # Random faults are drawn for the first LIVE_FAULT_HORIZON_S of simulated time: a live run is unbounded.
        self.labels = plan_faults(self.flow.stations, sim.faults, sim.random_faults, LIVE_FAULT_HORIZON_S, fault_rng,
                                  sensed={path: list(noise) for path, noise in sensors.items()})
        self.faults = FaultInjector(self.labels, fault_rng,
                                    {(path, s): sd for path, noise in sensors.items() for s, sd in noise.items()})
        for model in self.assets.values():
            model.start()
        if start_us is not None:
            self.place(start_us)

    def place(self, origin_us: int) -> None:
        """Put simulated time 0 at plant instant `origin_us`, before the run starts: the samples' stamps and the
        line's shift calendar both, so its breaks and shifts fall where the twin's calendar puts them."""
        self.start_us = origin_us
        self.flow.place(origin_us)

    def ts_of(self, t_s: float) -> int:
        """Microsecond timestamp of simulated time `t_s`, as the samples are stamped."""
        return self.start_us + round(t_s * 1_000_000)

    def now_us(self) -> int:
        return self.ts_of(self.env.now)

    def controls(self) -> dict[str, StationModel]:
        """The machines a controller can command (the AGV takes its orders from its fleet manager instead)."""
        return {path: m for path, m in self.assets.items() if type(m) is StationModel}

    def emit(self, asset: Asset, signal: str, value: Value) -> None:
        """Record an observation; two at the same instant for the same signal keep the last."""
        spec = asset.signal(signal)
        assert spec is not None, f"a {asset.type} has no signal {signal!r}"
        ts = self.now_us()
        self.outbox[(asset.path, signal, ts)] = Sample(asset.path, signal, value, spec.unit, from_micros(ts))

    def drain(self) -> list[Sample]:
        samples = list(self.outbox.values())
        self.outbox.clear()
        return samples

    def snapshot(self) -> list[Sample]:
        """Every signal's current value, stamped now: what a freshly started server exposes. What happens at this
        very instant happens first, so no later sample carries this instant again."""
        while self.env.peek() <= self.env.now:
            self.env.step()
        self.outbox.clear()
        for model in self.assets.values():
            model.observe_all()
        return self.drain()

    def run_until(self, t: float) -> None:
        if t > self.env.now:
            self.env.run(until=t)

    # --- what the flow model tells its observer -------------------------------------------------
    def on_state(self, station: Station, k: int, old: AssetState, new: AssetState, reason: str | None) -> None:
        self._by_station[id(station)].set_state(station.state[0] if station.n == 1 else _aggregate(station))

    def on_part(self, station: Station, outcome: str, count: int) -> None:
        self._by_station[id(station)].count(outcome, count)

    def on_alarm(self, station: Station, code: str, active: bool) -> None:
        self._by_station[id(station)].alarm(code if active else "none")


def _aggregate(station: Station) -> AssetState:
    """One state for several machines in parallel: producing if any is, else the first one's."""
    return AssetState.PRODUCING if AssetState.PRODUCING in station.state else station.state[0]


class AssetModel:
    def __init__(self, model: LineModel, asset: Asset, rng: np.random.Generator) -> None:
        self.model, self.asset, self.rng, self.env = model, asset, rng, model.env
        self.signals: SignalModel = signal_model_for(asset, rng)
        self.state = AssetState.IDLE
        self.parts_good = self.parts_scrap = self.parts_rework = 0

    def start(self) -> None:
        self.env.process(self.sample_signals())

    def observe_all(self) -> None:
        for name, value in self.signals.read(self.state, 0.0).items():
            self.model.emit(self.asset, name, value)

    def sample_signals(self) -> Process:
        period = self.model.signal_period_s
        faults, path = self.model.faults, self.asset.path
        while True:
            yield self.env.timeout(period)
            values = faults.apply(path, self.env.now, self.signals.read(self.state, period))
            for name, value in values.items():
                self.model.emit(self.asset, name, value)
            self.record_rul()

    def record_rul(self) -> None:
        """Ground truth for remaining-useful-life estimates (only when the model records it)."""


class StationModel(AssetModel):
    """What a machine's controller publishes about one station of the flow model."""

    def __init__(self, model: LineModel, station: Station, rng: np.random.Generator) -> None:
        super().__init__(model, station.asset, rng)
        self.station = station
        self.alarm_code = "none"
        self.cycle_start = 0.0
        self.bearings = [c for c in station.clocks[0] if c.wear == "bearing"]
        if isinstance(self.signals, CncSignals):
            bearings = self.bearings
            if bearings:
                self.signals.bearing = lambda: max(c.health for c in bearings)
            if station.tool_life:
                life = station.tool_life
                self.signals.tool = lambda: 100.0 * station.tool_used[0] / life

    def record_rul(self) -> None:
        if self.model.rul is not None:
            for clock in self.bearings:
                self.model.rul.append(RulTruth(self.asset.path, "bearing", self.env.now, clock.left))

    def set_state(self, state: AssetState) -> None:
        if state is not self.state:
            if state is AssetState.PRODUCING:
                self.cycle_start = self.env.now
            self.state = state
            self.model.emit(self.asset, "state", str(state))

    def count(self, outcome: str, count: int) -> None:
        setattr(self, _COUNTERS[outcome], count)
        self.model.emit(self.asset, _COUNTERS[outcome], count)
        values = self.signals.on_part(self.env.now - self.cycle_start)
        for name, value in self.model.faults.apply(self.asset.path, self.env.now, values).items():
            self.model.emit(self.asset, name, value)
        self.cycle_start = self.env.now

    def alarm(self, code: str) -> None:
        """Failures carry a reason code, so downtime can be attributed; 'none' when the alarm clears."""
        self.alarm_code = code
        self.model.emit(self.asset, "alarm_code", code)

    # --- what the controller accepts from outside (simulators.opcua_server.MachineControl) -----------
    @property
    def speed_override(self) -> float:
        """Feed-rate override in percent of the programmed rate: 50 makes every cycle take twice as long."""
        return self.station.speed * 100.0

    @speed_override.setter
    def speed_override(self, percent: float) -> None:
        self.station.speed = percent / 100.0

    def stop_for_maintenance(self, seconds: float) -> None:
        """Finish the cycle under way, then stand in a planned stop (reason 'maintenance') for `seconds`."""
        self.station.hold(seconds)  # plant seconds, as the timestamps show them

    def reset_alarm(self) -> bool:
        """Reset the active alarm, ending the stop it caused; False when no alarm is active."""
        return self.station.reset_alarm()

    def observe_all(self) -> None:
        for name, value in (("state", str(self.state)), ("parts_good", self.parts_good),
                            ("parts_scrap", self.parts_scrap), ("parts_rework", self.parts_rework),
                            ("alarm_code", self.alarm_code)):
            self.model.emit(self.asset, name, value)
        super().observe_all()


class AgvModel(StationModel):
    """Carries full loads to the warehouse and drives back; reports its whole state every period."""

    def __init__(self, model: LineModel, station: Station, rng: np.random.Generator) -> None:
        super().__init__(model, station, rng)
        assert isinstance(station, Agv)
        self.agv = station
        self.route_m = station.asset.config.sim.route_length_m
        self.battery = 100.0

    def set_state(self, state: AssetState) -> None:
        self.state = state  # reported by the periodic status message only

    def count(self, outcome: str, count: int) -> None:
        if outcome == "good":
            self.parts_good = count

    def alarm(self, code: str) -> None:
        self.alarm_code = code

    def observe_all(self) -> None:
        values: dict[str, Value] = {
            "state": str(self.state), "parts_good": self.parts_good, "battery": round(self.battery, 2),
            "position": round(self.agv.route_share() * self.route_m, 2), "mission": self.agv.mission,
        }
        for name, value in values.items():
            self.model.emit(self.asset, name, value)

    def sample_signals(self) -> Process:
        period = self.model.signal_period_s
        self.observe_all()  # a vehicle reports its state as soon as it connects
        while True:
            yield self.env.timeout(period)
            drain = 0.02 if self.agv.moving_since is not None else -0.05  # charges while parked at the line
            self.battery = min(100.0, max(0.0, self.battery - drain * period))
            self.observe_all()


class BufferModel(AssetModel):
    def __init__(self, model: LineModel, asset: Asset, store: Buffer) -> None:
        super().__init__(model, asset, np.random.default_rng(0))
        self.store = store
        store.on_level = self.on_level

    def on_level(self, level: int) -> None:
        self.model.emit(self.asset, "level", level)

    def observe_all(self) -> None:
        self.model.emit(self.asset, "level", len(self.store.items))
        self.model.emit(self.asset, "capacity", self.asset.config.capacity or 0)

    def start(self) -> None:  # a buffer changes only when parts move
        pass
