"""A plausible history of a line at its signal rates, generated fast, for the historian benchmark.

Rates follow the simulator: every analog signal of a running station and the AGV's status once per
`signal_period_s`; counters, tool wear, cycle time and measured diameter once per part; states and
buffer levels on change. Stations alternate between producing and down (exponential times between
failures and repairs, from the plant model), so windows see real gaps in production. Deterministic for
a seed: the benchmark generates the same history twice, once for each store, instead of holding it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import numpy as np

from plantmodel.catalog import AssetRole, AssetType
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import Event, EventKind, Record, Sample

# analog signals read every period, by type id: name -> (level producing, level otherwise, noise sd, digits)
_ANALOG: dict[str, dict[str, tuple[float, float, float, int]]] = {
    AssetType.CNC_MACHINE: {"spindle_speed": (8000.0, 0.0, 16.0, 1), "spindle_load": (52.0, 1.5, 1.5, 2),
                            "spindle_temperature": (46.0, 24.0, 0.05, 2), "vibration_rms": (2.1, 0.15, 0.08, 3),
                            "power": (10.2, 1.8, 0.15, 3)},
    AssetType.INDUSTRIAL_ROBOT: {"joint_torque_max": (86.0, 22.0, 3.0, 2), "gripper_pressure": (6.0, 6.0, 0.04, 3)},
    AssetType.CONVEYOR: {"motor_current": (3.2, 0.4, 0.06, 3), "belt_speed": (0.5, 0.0, 0.004, 3)},
    AssetType.AGV: {"battery": (80.0, 80.0, 5.0, 1), "position": (70.0, 70.0, 40.0, 2)},
}
_UNITS = {"spindle_speed": "rpm", "spindle_load": "%", "spindle_temperature": "°C", "vibration_rms": "mm/s",
          "power": "kW", "joint_torque_max": "N·m", "gripper_pressure": "bar", "motor_current": "A",
          "belt_speed": "m/s", "battery": "%", "position": "m", "tool_wear": "%", "cycle_time": "s",
          "measured_diameter": "mm", "parts_good": "parts", "parts_scrap": "parts", "level": "parts"}


@dataclass
class _Station:
    asset: Asset
    changes: np.ndarray  # seconds from the start at which the state flips; even index: producing begins
    parts: np.ndarray  # seconds at which a part is finished
    scrap: np.ndarray  # bool per part
    upstream_of: Asset | None = None  # the buffer it fills


def _station(asset: Asset, seconds: float, rng: np.random.Generator) -> _Station:
    sim = asset.config.sim
    cycle = sim.cycle_time_s or asset.config.ideal_cycle_time_s or 30.0
    changes, t = [0.0], 0.0
    while t < seconds:
        t += rng.exponential(sim.mtbf_s) if sim.mtbf_s else seconds  # producing...
        changes.append(t)
        t += rng.exponential(sim.mttr_s)  # ...then down
        changes.append(t)
    parts = []
    for begin, end in zip(changes[0::2], changes[1::2], strict=False):
        n = int((min(end, seconds) - begin) / cycle)
        if n > 0:
            parts.append(begin + np.cumsum(rng.normal(cycle, cycle * 0.05, n).clip(cycle / 2)))
    done = np.concatenate(parts) if parts else np.empty(0)
    done = done[done < seconds]
    return _Station(asset, np.array(changes), done, rng.random(done.size) < sim.scrap_rate)


class LineHistory:
    """Chunks of records, in time order, for `seconds` of the plant's lines ending at `end`."""

    def __init__(self, plant: PlantConfig, end: datetime, seconds: float, seed: int = 42) -> None:
        self.start, self.seconds = end - timedelta(seconds=seconds), seconds
        self.lines = plant.lines()
        self.assets = plant.assets()
        self.period = self.lines[0].config.simulation.signal_period_s
        self.seed = seed

    def chunks(self, chunk_s: int = 3600) -> Iterator[list[Record]]:
        rng = np.random.default_rng(self.seed)
        stations = {a.path: _station(a, self.seconds, rng) for a in self.assets
                    if a.role is AssetRole.STATION or a.role is AssetRole.TRANSPORT}
        buffers = [a for a in self.assets if a.role is AssetRole.BUFFER]
        feeders: dict[str, str] = {}  # buffer path -> station before it in the flow
        for line in self.lines:
            flow = [line.asset(i) for i in line.config.flow]
            for before, this in pairwise(flow):
                if this.role is AssetRole.BUFFER:
                    feeders[this.path] = before.path
        counts = {p: [0, 0] for p in stations}
        wear = {p: float(rng.uniform(0, 30)) for p in stations}
        for t0 in np.arange(0.0, self.seconds, chunk_s):
            t1 = min(t0 + chunk_s, self.seconds)
            yield self._chunk(t0, t1, rng, stations, buffers, feeders, counts, wear)

    def _ts(self, seconds: np.ndarray) -> list[datetime]:
        return [self.start + timedelta(microseconds=us) for us in (seconds * 1e6).astype(np.int64).tolist()]

    def _chunk(self, t0: float, t1: float, rng: np.random.Generator, stations: dict[str, _Station],
               buffers: list[Asset], feeders: dict[str, str], counts: dict[str, list[int]],
               wear: dict[str, float]) -> list[Record]:
        out: list[Record] = []
        secs = np.arange(t0, t1, self.period)
        stamps = self._ts(secs)
        for path, st in stations.items():
            asset = st.asset
            flips = np.searchsorted(st.changes, secs, side="right") - 1
            producing = flips % 2 == 0
            for name, (run, rest, sd, digits) in _ANALOG.get(asset.type, {}).items():
                values = np.round(np.where(producing, run, rest) + sd * rng.standard_normal(secs.size), digits)
                unit = _UNITS[name]
                out.extend(Sample(path, name, v, unit, t) for v, t in zip(values.tolist(), stamps, strict=True))
            inside = np.flatnonzero((st.changes >= t0) & (st.changes < t1))
            for i, when in zip(inside.tolist(), self._ts(st.changes[inside]), strict=True):
                to, was = ("producing", "down") if i % 2 == 0 else ("down", "producing")
                out.append(Sample(path, "state", to, "", when))
                out.append(Event(path, EventKind.STATE_CHANGE, when, {"from": was if i else None, "to": to}))
            chosen = np.flatnonzero((st.parts >= t0) & (st.parts < t1))
            for i, when in zip(chosen.tolist(), self._ts(st.parts[chosen]), strict=True):
                scrap = bool(st.scrap[i])
                counts[path][scrap] += 1
                counter = "parts_scrap" if scrap else "parts_good"
                out.append(Sample(path, counter, counts[path][scrap], "parts", when))
                out.append(Event(path, EventKind.PART, when, {"outcome": "scrap" if scrap else "good", "count": 1}))
                out.extend(self._per_part(path, asset.type, when, rng, wear))
        for buf in buffers:
            feeder = stations.get(feeders.get(buf.path, ""))
            if feeder is None:
                continue
            chosen = feeder.parts[(feeder.parts >= t0) & (feeder.parts < t1)]
            levels = rng.integers(0, (buf.config.limit or 1) + 1, chosen.size).tolist()
            out.extend(Sample(buf.path, "level", lvl, "parts", t) for lvl, t in zip(levels, self._ts(chosen),
                                                                                    strict=True))
        return out

    @staticmethod
    def _per_part(path: str, kind: str, when: datetime, rng: np.random.Generator,
                  wear: dict[str, float]) -> list[Sample]:
        if kind == AssetType.CNC_MACHINE:
            wear[path] = (wear[path] + float(rng.uniform(0.4, 0.8))) % 100.0
            return [Sample(path, "tool_wear", round(wear[path], 2), "%", when)]
        if kind == AssetType.INDUSTRIAL_ROBOT:
            return [Sample(path, "cycle_time", round(float(rng.normal(35.0, 1.7)), 3), "s", when)]
        if kind == AssetType.INSPECTION_STATION:
            return [Sample(path, "measured_diameter", round(float(rng.normal(42.0, 0.004)), 4), "mm", when)]
        return []

