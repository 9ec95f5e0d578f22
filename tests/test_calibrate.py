"""Calibration from history recovers the parameters a line was simulated with, within their intervals.

The simulator runs with known parameters and its events go through the historian (a real SQLite file);
calibration reads them back, fits, and the calibrated model predicts the throughput that was observed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from flow_lines import exponential, serial_line

from analytics.calibration import fit_duration
from historian.sqlite import SqliteHistorian
from planning.calibrate import calibrate, predicted_throughput, station_history
from plantmodel.plant import PlantConfig
from simulators.flow.line import FlowLine

HOURS = 150.0
TRUTH = {"cycle": 40.0, "mtbf": 3600.0, "mttr": 300.0, "scrap": 0.03}


def _line():
    return serial_line(
        [{"ideal": 36.0, "cycle_time": {"kind": "lognormal", "mean": TRUTH["cycle"], "cv": 0.1},
          "failures": [{"reason": "E-1", "ttf": exponential(TRUTH["mtbf"]),
                        "ttr": {"kind": "lognormal", "mean": TRUTH["mttr"], "cv": 0.5}}],
          "scrap_rate": TRUTH["scrap"]},
         {"ideal": 30.0, "cycle_time": {"kind": "weibull", "mean": 30.0, "shape": 8.0}}],
        buffers=[5])


SEEDS = (5, 6, 7, 8, 9)


def _record(tmp: Path, seed: int) -> Path:
    start_us = to_micros_now() - int(HOURS * 3600 * 1e6) - 10_000_000
    sim = FlowLine(_line(), seed, record_events=True, start_us=start_us)
    sim.run(HOURS, 0)
    db = tmp / f"historian-{seed}.db"
    store = SqliteHistorian(db)
    report = store.write(sim.events)
    store.close()
    assert report.rejected == [] and report.stored == len(sim.events)
    return db


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("hist")
    return [_record(tmp, seed) for seed in SEEDS]


def to_micros_now() -> int:
    return int(time.time() * 1e6)


def _plant_data(line) -> dict:
    return {"enterprise": "t", "sites": [{"id": "s", "areas": [{"id": "a", "lines": [
        line.config.model_dump(mode="json", exclude_defaults=True)]}]}]}


def _inside(truth: float, ci: list[float]) -> bool:
    return ci[0] <= truth <= ci[1]


def test_calibration_recovers_the_parameters_within_their_intervals(recorded) -> None:
    """Five independent histories: each true value inside its 95 % interval in at least three of them (an
    interval covering 93 %, as Student's t does for a skewed lognormal mean, misses three of five with
    probability 0.3 %)."""
    line = _line()
    hits: dict[str, int] = {}
    for db in recorded:
        store = SqliteHistorian(db, readonly=True)
        data, report = calibrate(_plant_data(line), line, store, None, None)
        store.close()
        m1, m2 = report["stations"]["m1"], report["stations"]["m2"]
        f = m1["failures"]["E-1"]
        checks = {
            "cycle": _inside(TRUTH["cycle"], m1["cycle_time"]["mean_ci95"]),
            "mtbf": _inside(TRUTH["mtbf"], f["ttf"]["mean_ci95"]),
            "mttr": _inside(TRUTH["mttr"], f["ttr"]["mean_ci95"]),
            "scrap": _inside(TRUTH["scrap"], m1["scrap_rate"]["ci95"]),
            "cycle2": _inside(30.0, m2["cycle_time"]["mean_ci95"]),
        }
        assert m1["cycle_time"]["kind"] == "lognormal" and m2["cycle_time"]["kind"] in ("weibull", "normal")
        # the calibrated model is a valid plant model and predicts the throughput observed
        predicted = predicted_throughput(PlantConfig.model_validate(data), "l", HOURS, 6, 3, workers=1)
        observed = report["observed_throughput_per_hour"]
        checks["throughput"] = _inside(predicted["mean"], observed["ci95"])
        for key, ok in checks.items():
            hits[key] = hits.get(key, 0) + ok
    assert all(n >= 3 for n in hits.values()), hits


def test_cycles_interrupted_by_a_failure_are_left_out(recorded) -> None:
    line = _line()
    store = SqliteHistorian(recorded[0], readonly=True)
    events = store.events(line.asset("m1").path)
    h = station_history(events)
    assert min(h.cycles) > 0 and max(h.cycles) < 40.0 * 3  # a repair inside a cycle would add minutes
    assert sum(len(v) for v in h.ttr.values()) == len(h.ttr["E-1"])
    store.close()


def test_fits_fall_back_to_the_empirical_distribution() -> None:
    rng = np.random.default_rng(2)
    bimodal = np.concatenate([rng.normal(10, 0.5, 2000), rng.normal(30, 0.5, 2000)])
    fit = fit_duration(bimodal)
    assert fit.kind == "empirical" and fit.as_config()["kind"] == "empirical"
    assert fit_duration([5.0, 5.0, 5.0]).kind == "fixed"
