"""Physical signals of the planning model, sampled at a set period, with degradation and injected faults.

Degradation comes from the model itself, so signals and flow agree: a failure mode with ``wear: bearing``
raises vibration and spindle temperature as its operating-time clock runs down (the remaining life on
that clock is the RUL ground truth); a station with ``tool_life_parts`` shows tool wear, with spindle
load and power rising with it (and its scrap rising in the flow model). Injected faults (scheduled in
the config, or random) change the signals only, and each one is a ground-truth label.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from plantmodel.catalog import AssetType, SignalKind
from plantmodel.plant import Asset
from plantmodel.simulation import FaultInjection, RandomFaults
from plantmodel.telemetry import AssetState, Sample, from_micros
from simulators.distributions import sampler
from simulators.flow.station import Agv, Station
from simulators.signals import kind_of

DEFAULT_SIGNAL = {"bearing_fault": "vibration_rms", "coolant_loss": "spindle_temperature"}
FAULT_TYPES = {"bearing_fault": {AssetType.CNC_MACHINE}, "coolant_loss": {AssetType.CNC_MACHINE}}


@dataclass(frozen=True, slots=True)
class FaultLabel:
    """Ground truth: `fault` shows in `signal` of `asset` from `start_s` to `end_s` (simulated seconds)."""

    asset: str
    signal: str
    fault: str
    start_s: float
    end_s: float
    magnitude: float


@dataclass(frozen=True, slots=True)
class RulTruth:
    asset: str
    component: str
    t_s: float
    rul_operating_s: float  # operating seconds until this component fails


def _analog(asset: Asset) -> list[str]:
    return [s.name for s in asset.signals if s.kind is SignalKind.ANALOG]


def plan_faults(stations: list[Station], scheduled: list[FaultInjection], random: RandomFaults | None,
                horizon_s: float, rng: np.random.Generator) -> list[FaultLabel]:
    """Every fault of the run, decided before it starts (so labels never depend on sampling)."""
    by_id = {st.id: st for st in stations}
    labels = []
    for f in scheduled:
        st = by_id.get(f.asset)
        if st is None:
            continue
        signal = f.signal or DEFAULT_SIGNAL.get(f.kind) or _analog(st.asset)[0]
        labels.append(FaultLabel(st.path, signal, f.kind, f.start_h * 3600, (f.start_h + f.duration_h) * 3600,
                                 f.magnitude))
    if random is not None:
        draw_duration = sampler(random.duration_h, rng)
        t = 0.0
        candidates = [st for st in stations if _analog(st.asset)]
        while candidates:
            t += rng.exponential(86_400 / random.per_day)
            if t >= horizon_s:
                break
            st = candidates[int(rng.integers(len(candidates)))]
            kinds = [k for k in random.kinds if kind_of(st.asset) in FAULT_TYPES.get(k, {kind_of(st.asset)})]
            if not kinds:
                continue
            kind = kinds[int(rng.integers(len(kinds)))]
            signals = _analog(st.asset)
            signal = DEFAULT_SIGNAL.get(kind) or signals[int(rng.integers(len(signals)))]
            labels.append(FaultLabel(st.path, signal, kind, t, t + max(draw_duration(), 0.01) * 3600,
                                     random.magnitude))
    return sorted(labels, key=lambda lab: lab.start_s)


class Sensors:
    """Samples every station each `period_s` into `samples`; RUL truth of wearing parts into `rul`."""

    AMBIENT_C, RUNNING_C, TAU_S = 24.0, 46.0, 600.0

    def __init__(self, env: simpy.Environment, stations: list[Station], period_s: float, labels: list[FaultLabel],
                 rng: np.random.Generator, start_us: int = 0) -> None:
        self.env, self.stations, self.period_s, self.rng = env, stations, period_s, rng
        self.labels, self.start_us = labels, start_us
        self.samples: list[Sample] = []
        self.rul: list[RulTruth] = []
        self.temperature = {st.id: self.AMBIENT_C + 2.0 for st in stations}
        self.injector = FaultInjector(labels, rng)
        self.battery: dict[str, float] = {}
        self.rated_rpm = {st.id: float(rng.choice([6000.0, 8000.0, 12000.0])) for st in stations}
        env.process(self._run())

    def _run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self.env.timeout(self.period_s)
            for st in self.stations:
                values = self.read(st)
                values = self.apply_faults(st, values)
                ts = from_micros(self.start_us + round(self.env.now * 1_000_000))
                for name, value in values.items():
                    spec = st.asset.signal(name)
                    if spec is not None:
                        value = round(value, 4) if isinstance(value, float) else value
                        self.samples.append(Sample(st.path, name, value, spec.unit, ts))

    def _noisy(self, mean: float, sd: float) -> float:
        return float(mean + sd * self.rng.standard_normal())

    def read(self, st: Station) -> dict[str, Any]:
        running = any(s is AssetState.PRODUCING for s in st.state)
        t = kind_of(st.asset)
        if t == AssetType.CNC_MACHINE:
            bearing = 0.0
            for clock in st.clocks[0]:
                if clock.wear == "bearing":
                    bearing = max(bearing, clock.health)
                    self.rul.append(RulTruth(st.path, "bearing", self.env.now, clock.left))
            tool = 100.0 * st.tool_used[0] / st.tool_life if st.tool_life else 0.0
            target = (self.RUNNING_C + 12.0 * bearing**2) if running else self.AMBIENT_C
            temp = self.temperature[st.id]
            temp += (target - temp) * (1 - math.exp(-self.period_s / self.TAU_S))
            self.temperature[st.id] = temp
            rpm = self.rated_rpm[st.id]
            return {
                "spindle_speed": self._noisy(rpm, 0.002 * rpm) if running else 0.0,
                "spindle_load": self._noisy(45.0 + 0.25 * tool, 1.5) if running else self._noisy(1.5, 0.3),
                "spindle_temperature": self._noisy(temp, 0.05),
                "vibration_rms": self._noisy((1.8 if running else 0.15) * (1 + 3 * bearing**2), 0.08),
                "tool_wear": tool,
                "power": self._noisy(9.0 + 0.04 * tool, 0.15) if running else self._noisy(1.8, 0.15),
            }
        if t == AssetType.INDUSTRIAL_ROBOT:
            return {"joint_torque_max": self._noisy(86.0 if running else 22.0, 3.0 if running else 0.5),
                    "gripper_pressure": self._noisy(6.0, 0.04)}
        if t == AssetType.CONVEYOR:
            return {"motor_current": self._noisy(3.2 if running else 0.4, 0.06 if running else 0.01),
                    "belt_speed": self._noisy(0.5, 0.004) if running else 0.0}
        if t == AssetType.INSPECTION_STATION:
            return {"measured_diameter": self._noisy(42.0, 0.004)}
        if isinstance(st, Agv):
            moving = st.moving_since is not None  # drains while driving, charges while parked at the line
            charge = self.battery.get(st.id, 100.0) - (0.02 if moving else -0.05) * self.period_s
            self.battery[st.id] = min(100.0, max(0.0, charge))
            return {"state": str(st.state[0]), "parts_good": st.good, "battery": self.battery[st.id],
                    "position": st.route_share() * st.asset.config.sim.route_length_m, "mission": st.mission}
        return {}

    def apply_faults(self, st: Station, values: dict[str, float]) -> dict[str, float]:
        return self.injector.apply(st.path, self.env.now, values)


class FaultInjector:
    """Changes signal values as the labelled faults say; shared by the planning and the real-time mode."""

    def __init__(self, labels: list[FaultLabel], rng: np.random.Generator) -> None:
        self.labels, self.rng = labels, rng
        self.stuck: dict[tuple[str, str], float] = {}

    def apply(self, asset: str, now: float, values: dict[str, Any]) -> dict[str, Any]:
        for lab in self.labels:
            if lab.start_s > now:
                break
            if lab.asset != asset or now > lab.end_s or not isinstance(values.get(lab.signal), int | float):
                if now > lab.end_s:
                    self.stuck.pop((lab.asset, lab.signal), None)
                continue
            v = float(values[lab.signal])
            progress = (now - lab.start_s) / (lab.end_s - lab.start_s)
            ramp = min(1.0, 4 * progress)
            if lab.fault == "bearing_fault":
                v *= 1 + 1.5 * lab.magnitude * ramp
                if isinstance(values.get("spindle_temperature"), int | float):
                    values["spindle_temperature"] += 5.0 * lab.magnitude * ramp
            elif lab.fault == "coolant_loss":
                v += 15.0 * lab.magnitude * ramp
            elif lab.fault == "sensor_drift":
                v += lab.magnitude * progress
            elif lab.fault == "stuck_sensor":
                v = self.stuck.setdefault((lab.asset, lab.signal), v)
            elif lab.fault == "spikes" and self.rng.random() < 0.1:
                v = v * (1 + 3 * lab.magnitude) + lab.magnitude
            values[lab.signal] = round(v, 4)
        return values
