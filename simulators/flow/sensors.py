"""Faults injected into the signals, and the ground truth they leave: labels, and the remaining life of wear.

The signals themselves come from one model (simulators.signals, driven by simulators.live_line), whose degradation
comes from the flow model, so signals and flow agree: a failure mode with ``wear: bearing`` raises vibration
and spindle temperature as its operating-time clock runs down (the remaining life on that clock is the RUL
ground truth); a station with ``tool_life_parts`` shows tool wear. Injected faults (scheduled in the config,
or random) change the signals only, and each one is a ground-truth label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from plantmodel.catalog import AssetType, SignalKind
from plantmodel.plant import Asset
from plantmodel.simulation import FaultInjection, RandomFaults
from simulators.distributions import sampler
from simulators.flow.station import Station
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
                horizon_s: float, rng: np.random.Generator,
                sensed: Mapping[str, Sequence[str]] | None = None) -> list[FaultLabel]:
    """Every fault of the run, decided before it starts (so labels never depend on sampling).

    Random faults are sensor faults (and a CNC's bearing or coolant): they go into the signals a station
    measures with a sensor (`sensed`, path -> signal names, as the signal model says), never into values a
    controller computes (a tool's wear, a cycle time, an AGV's position and charge). A scheduled fault goes
    where the configuration says.
    """
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
        measured = {st.path: list(sensed[st.path]) if sensed is not None else _analog(st.asset) for st in stations
                    if (sensed is None or sensed.get(st.path))}
        candidates = [st for st in stations if measured.get(st.path)]
        while candidates:
            t += rng.exponential(86_400 / random.per_day)
            if t >= horizon_s:
                break
            st = candidates[int(rng.integers(len(candidates)))]
            kinds = [k for k in random.kinds if kind_of(st.asset) in FAULT_TYPES.get(k, {kind_of(st.asset)})]
            if not kinds:
                continue
            kind = kinds[int(rng.integers(len(kinds)))]
            signals = measured[st.path]
            signal = DEFAULT_SIGNAL.get(kind) or signals[int(rng.integers(len(signals)))]
            labels.append(FaultLabel(st.path, signal, kind, t, t + max(draw_duration(), 0.01) * 3600,
                                     random.magnitude))
    return sorted(labels, key=lambda lab: lab.start_s)


class FaultInjector:
    """Changes signal values as the labelled faults say.

    A sensor drift of magnitude m moves the reading by m × `DRIFT_NOISE` times the sensor's noise (its standard
    deviation, `noise`: (asset, signal) -> σ) by the end of the fault, so one magnitude means as much on any
    sensor; on a signal without noise, m is in the signal's own units.
    """

    DRIFT_NOISE = 10.0

    def __init__(self, labels: list[FaultLabel], rng: np.random.Generator,
                 noise: Mapping[tuple[str, str], float] | None = None) -> None:
        self.labels, self.rng = labels, rng
        self.noise = dict(noise or {})
        self.stuck: dict[int, float] = {}  # label index -> the reading it froze at

    def apply(self, asset: str, now: float, values: dict[str, Any]) -> dict[str, Any]:
        for i, lab in enumerate(self.labels):
            if lab.start_s > now:
                break
            if lab.asset != asset or now > lab.end_s or not isinstance(values.get(lab.signal), int | float):
                if now > lab.end_s:  # its own frozen reading only: a later fault on the same signal is another
                    self.stuck.pop(i, None)
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
                sd = self.noise.get((lab.asset, lab.signal))
                v += lab.magnitude * (self.DRIFT_NOISE * sd if sd else 1.0) * progress
            elif lab.fault == "stuck_sensor":
                v = self.stuck.setdefault(i, v)
            elif lab.fault == "spikes" and self.rng.random() < 0.1:
                v = v * (1 + 3 * lab.magnitude) + lab.magnitude
            values[lab.signal] = round(v, 4)
        return values
