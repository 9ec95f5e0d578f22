"""`factory-twin sim calibrate`: a plant model whose simulation parameters come from the historian's events.

From each station's state changes and part events it takes
- cycle times: from a part (or from starting to produce after waiting or a changeover) to the next part,
  without leaving producing in between (a cycle a failure interrupted is left out);
- times between failures in operating (producing) time, per failure reason, and repair times (down);
- scrap and rework rates (with Wilson intervals), changeover times (setup), tool changes and tool life;
- buffer capacities seen (the largest `level` sample of each buffer, where the historian has them);
then fits each duration (analytics.calibration), writes the plant model with the fits in place of the
station's `sim:` parameters (the shape of the line, its calendar and products are kept), and a report
with every fit's confidence, the observed throughput and what the calibrated model predicts.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from analytics.calibration import DurationFit, fit_duration, proportion_ci, rate_ci
from historian.base import Historian
from plantmodel.catalog import AssetRole
from plantmodel.plant import Line, PlantConfig
from plantmodel.routing import graph
from plantmodel.telemetry import Event, EventKind, to_micros

SIM_KEYS_REPLACED = ("cycle_time_s", "cycle_time_cv", "cycle_time", "mtbf_s", "mttr_s", "failures", "scrap_rate",
                     "rework_rate", "setup_time", "tool_life_parts", "tool_change_s")
GENERIC_REASON = "F-HISTORY"
BATCHES = 10


@dataclass
class StationHistory:
    """What one station's events say, as durations in seconds."""

    cycles: list[float] = field(default_factory=list)
    tbf: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ttr: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    setups: list[float] = field(default_factory=list)
    tool_changes: list[float] = field(default_factory=list)
    tool_life: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    servers: set[int] = field(default_factory=set)
    good_times: list[float] = field(default_factory=list)


def station_history(events: list[Event]) -> StationHistory:
    """Durations of one station from its events in time order (a part before a state change at one instant)."""
    h = StationHistory()
    state: str | None = None
    since = 0.0
    mark: float | None = None  # when the cycle under way began, if it is known whole
    operating = 0.0  # producing seconds so far
    last_failure_end: dict[str, float] = {}  # operating seconds at the end of the last repair, per reason
    down_reason = GENERIC_REASON
    parts_since_tool = 0
    seen_tool_change = False
    since_reason: Any = None
    for e in events:
        t = to_micros(e.ts) / 1e6
        if e.kind is EventKind.PART:
            outcome = str(e.data.get("outcome", "good"))
            h.outcomes[outcome] += 1
            parts_since_tool += 1
            if outcome == "good":
                h.good_times.append(t)
            if state == "producing" and mark is not None:
                h.cycles.append(t - mark)
            mark = t if state == "producing" else None
            continue
        if e.kind is not EventKind.STATE_CHANGE:
            continue
        h.servers.add(int(e.data.get("server", 0)))
        new, reason = str(e.data.get("to")), e.data.get("reason")
        if state is not None:
            spent = t - since
            if state == "producing":
                operating += spent
            elif state == "down":
                h.ttr[down_reason].append(spent)
                last_failure_end[down_reason] = operating
            elif state == "setup" and spent > 0:
                if since_reason == "tool_change":
                    h.tool_changes.append(spent)
                    if seen_tool_change:
                        h.tool_life.append(parts_since_tool)
                    seen_tool_change, parts_since_tool = True, 0
                elif since_reason is None:
                    h.setups.append(spent)
        if new == "down":
            down_reason = str(reason) if reason and reason != "waiting_for_operator" else GENERIC_REASON
            if down_reason in last_failure_end:
                h.tbf[down_reason].append(operating - last_failure_end[down_reason])
            mark = None  # the cycle under way is interrupted
        elif new == "producing":
            mark = t if state != "down" else None
        state, since, since_reason = new, t, reason
    return h


def _fit(samples: list[float], minimum: int = 3) -> DurationFit | None:
    return fit_duration(samples) if len(samples) >= minimum else None


def calibrate(plant_data: dict[str, Any], line: Line, history: Historian, since: datetime | None,
              until: datetime | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the calibrated plant data, the report) for `line` of the plant whose YAML data is `plant_data`."""
    t0 = time.perf_counter()
    events = history.events(line.path + "/*", None, since, until)
    by_asset: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_asset[e.asset].append(e)
    if not events:
        raise ValueError(f"the historian has no events of {line.path} in that range")
    first, last = to_micros(events[0].ts) / 1e6, to_micros(events[-1].ts) / 1e6
    report: dict[str, Any] = {"line": line.path, "events": len(events), "span_h": (last - first) / 3600,
                              "stations": {}, "buffers": {}}
    changes: dict[str, dict[str, Any]] = {}
    for asset in line.assets():
        if asset.role is AssetRole.BUFFER:
            seen = _largest_level(history, asset.path, since, until)
            report["buffers"][asset.id] = {"capacity_configured": asset.config.capacity, "largest_level_seen": seen}
            if seen is not None and asset.config.limit is not None and seen > asset.config.limit:
                changes[asset.id] = {"capacity": int(seen)}
            continue
        if asset.role not in (AssetRole.STATION, AssetRole.TRANSPORT) or asset.path not in by_asset:
            continue
        h = station_history(by_asset[asset.path])
        sim: dict[str, Any] = {}
        rep: dict[str, Any] = {}
        whole = len(h.servers) <= 1 and asset.role is AssetRole.STATION and asset.config.sim.batch_size == 1
        cycle = _fit(h.cycles, 10) if whole else None
        if cycle is not None:
            sim["cycle_time"] = cycle.as_config()
            rep["cycle_time"] = cycle.report()
        failures: list[dict[str, Any]] = []
        rep_failures: dict[str, dict[str, Any]] = {}
        for reason in sorted(set(h.tbf) | set(h.ttr)):
            ttf, ttr = _fit(h.tbf.get(reason, []), 2), _fit(h.ttr.get(reason, []), 2)
            if ttf is None or ttr is None:
                rep_failures[reason] = {"failures": len(h.ttr.get(reason, [])), "fitted": False}
                continue
            failures.append({"reason": reason, "ttf": ttf.as_config(), "ttr": ttr.as_config()})
            rep_failures[reason] = {"ttf": ttf.report(), "ttr": ttr.report()}
        if failures:
            sim["failures"] = failures
        rep["failures"] = rep_failures
        judged = h.outcomes["good"] + h.outcomes["scrap"] + h.outcomes["rework"]
        if judged:
            for key, outcome in (("scrap_rate", "scrap"), ("rework_rate", "rework")):
                k = h.outcomes[outcome]
                if k or key == "scrap_rate":
                    sim[key] = round(k / judged, 6)
                    rep[key] = {"value": k / judged, "ci95": list(proportion_ci(k, judged)), "parts": judged}
        setup = _fit(h.setups)
        if setup is not None:
            sim["setup_time"] = setup.as_config()
            rep["setup_time"] = setup.report()
        if h.tool_changes:
            sim["tool_change_s"] = round(float(np.mean(h.tool_changes)), 3)
            rep["tool_change_s"] = {"mean": float(np.mean(h.tool_changes)), "n": len(h.tool_changes)}
            if h.tool_life:
                sim["tool_life_parts"] = round(float(np.mean(h.tool_life)))
                rep["tool_life_parts"] = {"mean": float(np.mean(h.tool_life)), "n": len(h.tool_life)}
        changes[asset.id] = {"sim": sim}
        report["stations"][asset.id] = rep
    out = _apply(plant_data, line, changes)
    exits = [n for n, s in graph(line.config.flow, line.config.links).succ.items() if not s]
    good = sorted(t for a in line.assets() if a.id in exits for t in station_history(by_asset.get(a.path, []))
                  .good_times)
    edges = np.linspace(first, last, BATCHES + 1)
    counts = np.histogram(good, bins=edges)[0] if good else np.zeros(BATCHES)
    report["observed_throughput_per_hour"] = rate_ci(counts, last - first)
    report["calibration_s"] = time.perf_counter() - t0
    return out, report


def _largest_level(history: Historian, path: str, since: datetime | None, until: datetime | None) -> float | None:
    samples = history.samples(path, "level", since, until)
    values = [s.value for s in samples if isinstance(s.value, int | float)]
    return float(max(values)) if values else None


def _apply(plant_data: dict[str, Any], line: Line, changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    data = orjson.loads(orjson.dumps(plant_data))
    for site in data["sites"]:
        for area in site["areas"]:
            for ln in area["lines"]:
                if ln["id"] != line.config.id:
                    continue
                for cell in ln["cells"]:
                    for asset in cell["assets"]:
                        change = changes.get(asset["id"])
                        if not change:
                            continue
                        if "capacity" in change:
                            asset["capacity"] = change["capacity"]
                        if "sim" in change:
                            old = asset.get("sim") or {}
                            new = dict(change["sim"])
                            sim = {k: v for k, v in old.items()
                                   if not (k in SIM_KEYS_REPLACED and _replaced(k, new))}
                            if "failures" in new:  # modes the history did not show keep their configuration
                                seen = {f["reason"] for f in new["failures"]}
                                new["failures"] = [f for f in old.get("failures", [])
                                                   if f.get("reason", "F000") not in seen] + new["failures"]
                                if "mtbf_s" in old and "F-GENERIC" not in seen:
                                    sim |= {k: old[k] for k in ("mtbf_s", "mttr_s") if k in old}
                            if "scrap_rate" in new:  # the scrap seen includes a worn tool's
                                sim.pop("tool_scrap_at_end", None)
                            asset["sim"] = sim | new
    return data


def _replaced(key: str, new: dict[str, Any]) -> bool:
    """Whether the history replaced this key: cycle keys by a fitted cycle, failure keys by fitted failures
    (a station that did not fail in the range keeps its configured failures: no evidence either way)."""
    if key in ("cycle_time_s", "cycle_time_cv", "cycle_time"):
        return "cycle_time" in new
    if key in ("mtbf_s", "mttr_s", "failures"):
        return "failures" in new
    return key in new


def predicted_throughput(plant: PlantConfig, line_id: str, hours: float, replications: int, seed: int,
                         workers: int | None = None) -> dict[str, Any]:
    from simulators.flow.estimate import mean_ci
    from simulators.flow.replications import replicate

    line = next(ln for ln in plant.lines() if ln.config.id == line_id)
    results = replicate(line, hours, replications, seed, workers=workers, warmup_h=0)
    return mean_ci([r["throughput_per_hour"] for r in results])


def write(data: dict[str, Any], report: dict[str, Any], out: Path) -> Path:
    """The plant YAML (a header naming each station's fits and their confidence) and the report beside it."""
    lines = ["# Calibrated from the historian's events (factory-twin sim calibrate)",
             f"# line {report['line']}: {report['events']} events over {report['span_h']:.1f} h; every fit with "
             f"its 95 % interval in {out.with_suffix('.calibration.json').name}"]
    for sid, rep in report["stations"].items():
        parts = []
        if "cycle_time" in rep:
            c = rep["cycle_time"]
            parts.append(f"cycle {c['kind']} mean {c['mean']:.4g} s [{c['mean_ci95'][0]:.4g}, {c['mean_ci95'][1]:.4g}]"
                         f" n={c['n']}")
        for reason, f in rep["failures"].items():
            if "ttf" in f:
                parts.append(f"{reason} ttf {f['ttf']['kind']} mean {f['ttf']['mean']:.4g} s n={f['ttf']['n']}, "
                             f"ttr {f['ttr']['kind']} mean {f['ttr']['mean']:.4g} s")
        if "scrap_rate" in rep:
            s = rep["scrap_rate"]
            parts.append(f"scrap {s['value']:.4f} [{s['ci95'][0]:.4f}, {s['ci95'][1]:.4f}]")
        lines.append(f"#   {sid}: " + "; ".join(parts))
    out.write_text("\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                   encoding="utf-8")
    side = out.with_suffix(".calibration.json")
    side.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return side
