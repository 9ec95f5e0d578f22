"""`factory-twin bench alarms`: the live twin's alerts on the demo line against the simulator's truth (smoke)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from benchmarks import bench_alarms


def test_the_alarms_bench_runs_the_twins_pipeline_and_reports_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "alarms.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "alarms", "--days", "0.03", "--seeds",
                             "7", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = orjson.loads(out.read_bytes())
    assert {"alerts_per_hour", "false_per_asset_day", "recall", "delay_median_s", "floods", "in_settling",
            "escalated_above_rule", "load_avg", "missed_while_standing", "missed_labels",
            "true_before_vibration_moved"} <= set(data)
    assert data["seeds"] == [7] and data["simulated_hours"] == 0.7 and data["samples_on_wire"] > 10_000
    assert data["rejected_records"] == 0  # the simulator's records all pass the twin's checks
    assert data["annunciations"] == data["true"] + data["false"] + data["nuisance"]


def test_annunciations_are_judged_against_the_truth() -> None:
    us = bench_alarms.US
    o = bench_alarms.ORIGIN_US
    truth = bench_alarms.Truth(labels=[("a/cnc", "power", "sensor_drift", o + 7200 * us, o + 9000 * us)])
    truth.stops["a/cnc"].append((o + 4000 * us, o + 4400 * us, "down"))
    truth.restarts["a/cnc"].append(o + 4400 * us)
    truth.producing["a/cnc"] += [(o + 4400 * us, o + 7500 * us), (o + 8000 * us, o + 8100 * us)]

    def ann(kind: str, at_s: float) -> dict[str, object]:
        return {"rule": kind, "kind": kind, "asset": "a/cnc", "at": o + round(at_s * us), "severity": "warning"}

    from factory_twin.runtime import config_path
    from twin.config import load_twin

    cfg, _, _ = load_twin(config_path("twin-demo.yaml"), {})
    judged = bench_alarms.judge([ann("anomaly", 7300), ann("anomaly", 4500), ann("anomaly", 6000),
                                 ann("machine_alarm", 4130)], truth, 900, 300, 3600, cfg)
    assert judged["classes"] == {"true": 2, "nuisance": 1, "false": 1}
    assert judged["in_settling"] == 1  # 100 s after the restart, and no fault explains it
    [drift, breakdown] = judged["detections"]
    assert drift["delay_s"] == 100 and breakdown["fault"] == "breakdown" and breakdown["delay_s"] == 130
    assert drift["producing_s"] == 400  # 300 s of the first run and the second's 100 s fall inside the fault


def test_a_bearing_counts_as_worn_from_where_it_moves_a_signal_by_its_sensors_noise() -> None:
    """Measured on the signal model itself: at each signal's share, a running machine's mean reading has moved by
    one noise σ of that sensor from a new bearing's; the spindle's heat shows the wear long before its vibration."""
    import numpy as np

    from plantmodel.telemetry import AssetState
    from simulators.signals import CncSignals

    shares = CncSignals.bearing_share_by_signal()
    assert bench_alarms.WEAR_SHARE == shares["spindle_temperature"] < shares["vibration_rms"] / 1.5

    def means(share: float) -> dict[str, float]:
        model = CncSignals(np.random.default_rng(1))
        model.bearing = lambda: share
        reads = [model.read(AssetState.PRODUCING, 3600.0) for _ in range(40_000)]  # warm: at its running heat
        return {s: float(np.mean([r[s] for r in reads])) for s in shares}

    new = means(0.0)
    for signal, share in shares.items():
        moved = (means(share)[signal] - new[signal]) / CncSignals.NOISE[signal]
        assert abs(moved - 1) < 0.05, (signal, moved)


def test_an_alert_on_a_bearing_worn_only_in_its_heat_is_true_and_counted_apart() -> None:
    us, o = bench_alarms.US, bench_alarms.ORIGIN_US
    truth = bench_alarms.Truth()
    truth.wear["a/cnc"].append((o + 5000 * us, o + 20_000 * us))
    truth.wear_vibration["a/cnc"].append((o + 12_000 * us, o + 20_000 * us))
    truth.restarts["a/cnc"].append(o + 6000 * us)

    def ann(at_s: float) -> dict[str, object]:
        return {"rule": "anomaly", "kind": "anomaly", "asset": "a/cnc", "at": o + round(at_s * us),
                "severity": "warning", "signals": "vibration_rms"}

    from factory_twin.runtime import config_path
    from twin.config import load_twin

    cfg, _, _ = load_twin(config_path("twin-demo.yaml"), {})
    judged = bench_alarms.judge([ann(4000), ann(6300), ann(13_000)], truth, 900, 300, 3600, cfg)
    assert judged["classes"] == {"true": 2, "false": 1}
    assert judged["in_settling"] == 0
    assert [(e["hour"], e["settling"]) for e in judged["early_wear"]] == [(1.75, True)]
