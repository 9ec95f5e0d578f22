"""`factory-twin bench calibrate`: a line simulated with known parameters, its events stored in a SQLite
historian, calibrated back; how long that takes, and whether the known values lie in the fitted intervals.

Known values are the configured means (cycle, MTBF and MTTR of each exponential `mtbf_s`/`mttr_s` mode).
Scrap is not compared: a worn tool adds to it by design, so the configured rate is not the true one.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from historian.sqlite import SqliteHistorian
from planning.calibrate import calibrate, predicted_throughput
from plantmodel.catalog import AssetRole
from plantmodel.plant import Line, PlantConfig
from simulators.flow.line import FlowLine
from simulators.flow.station import cycle_distribution


def bench_calibrate(config: Path, line: Line, days: float, seed: int, replications: int) -> dict[str, Any]:
    hours = days * 24
    start_us = int(time.time() * 1e6) - int(hours * 3600e6) - 10_000_000
    t0 = time.perf_counter()
    sim = FlowLine(line, seed, record_events=True, start_us=start_us)
    sim.run(hours, 0)
    simulate_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteHistorian(Path(tmp) / "historian.db")
        t0 = time.perf_counter()
        assert sim.events is not None  # recorded: record_events=True
        store.write(sim.events)
        store_s = time.perf_counter() - t0
        store.close()
        reader = SqliteHistorian(Path(tmp) / "historian.db", readonly=True)
        data, rep = calibrate(yaml.safe_load(config.read_text(encoding="utf-8")), line, reader, None, None)
        reader.close()
    checks: dict[str, bool] = {}
    for asset in line.assets():
        if asset.role is not AssetRole.STATION or asset.id not in rep["stations"]:
            continue
        st, sim_cfg = rep["stations"][asset.id], asset.config.sim
        if "cycle_time" in st and not sim_cfg.tool_life_parts and not sim_cfg.micro_stops:
            low, high = st["cycle_time"]["mean_ci95"]
            checks[f"{asset.id}.cycle"] = low <= cycle_distribution(asset).expected <= high
        generic = st["failures"].get("F-GENERIC", {})
        if sim_cfg.mtbf_s and "ttf" in generic:
            for key, truth in (("ttf", sim_cfg.mtbf_s), ("ttr", sim_cfg.mttr_s)):
                low, high = generic[key]["mean_ci95"]
                checks[f"{asset.id}.{'mtbf' if key == 'ttf' else 'mttr'}"] = low <= truth <= high
    predicted = predicted_throughput(PlantConfig.model_validate(data), line.config.id, hours, replications, seed + 1)
    observed = rep["observed_throughput_per_hour"]
    return {
        "days": days, "events": rep["events"], "simulate_s": round(simulate_s, 2), "store_s": round(store_s, 2),
        "calibration_s": round(rep["calibration_s"], 2),
        "known_values_inside_ci": sum(checks.values()), "known_values_checked": len(checks),
        "outside": [k for k, ok in checks.items() if not ok],
        "observed_throughput_per_hour": observed, "predicted_throughput_per_hour": predicted,
        "predicted_inside_observed_ci": observed["ci95"][0] <= predicted["mean"] <= observed["ci95"][1],
    }
