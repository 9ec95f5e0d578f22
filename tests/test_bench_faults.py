"""Event-wise fault scoring and RUL scoring on hand-made examples; `bench faults` on small simulated data sets."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from analytics.scoring import Span, alarm_spans, false_alarms, score_faults, score_rul
from benchmarks import bench_faults
from factory_twin.cli import app
from tests.support import PROJECT

DEMO = PROJECT / "configs" / "demo-plant.yaml"


def test_alarm_spans_merge_close_runs_and_keep_apart_the_rest() -> None:
    spans = alarm_spans([0, 1, 2, 3, 4, 20, 21], [1, 1, 0, 1, 0, 1, 1], "m", "d", "s", merge_gap=2)
    assert [(s.start, s.end) for s in spans] == [(0.0, 3.0), (20.0, 21.0)]
    assert all(s.signal == "s" and s.kind == "d" for s in spans)
    assert alarm_spans([0, 1], [0, 0], "m", "d") == []


def test_fault_scores_on_a_hand_made_example() -> None:
    labels = [
        Span("m1", 100, 200, "drift", "temp"),
        Span("m1", 1000, 1100, "drift", "temp"),
        Span("m2", 100, 200, "stuck", "speed"),
        Span("m2", 500, 600, "stuck", "speed"),
    ]
    alarms = [
        Span("m1", 150, 400, "mewma"),  # drift 1 after 50 s
        Span("m1", 1205, 1210, "mewma"),  # 105 s after drift 2 ended: false with tolerance 10
        Span("m2", 95, 96, "mewma"),  # 5 s early, within tolerance: stuck 1, delay 0
        Span("m2", 530, 540, "stuck-value", "speed"),  # stuck 2 after 30 s
        Span("m2", 520, 521, "stuck-value", "load"),  # another signal: matches nothing
        Span("m3", 0, 5, "mewma"),  # no label on m3
    ]
    scores = score_faults(labels, alarms, {"drift": ["mewma"], "stuck": ["mewma", "stuck-value"]}, tolerance=10)
    drift, stuck = scores["drift"], scores["stuck"]
    assert (drift.labels, drift.detected, drift.recall) == (2, 1, 0.5)
    # drift's detector is mewma: 1 true, 2 false (m1 late, m3); mewma's stuck hit is another type's, not counted
    assert (drift.true_alarms, drift.false_alarms, drift.precision) == (1, 2, pytest.approx(1 / 3))
    assert drift.delays == (50.0,)
    assert (stuck.detected, stuck.recall, stuck.delays) == (2, 1.0, (0.0, 30.0))
    assert (stuck.true_alarms, stuck.false_alarms) == (2, 3)
    assert stuck.delay(0.5) == 15.0 and stuck.delay(0.9) == pytest.approx(27.0)
    assert false_alarms(alarms, labels, tolerance=10) == 3
    # with a wider tolerance the late alarm on m1 counts as true
    assert score_faults(labels, alarms, {"drift": ["mewma"]}, tolerance=200)["drift"].false_alarms == 1


def test_an_alarm_open_before_the_fault_is_not_a_detection() -> None:
    labels = [Span("m", 100, 200, "drift")]
    s = score_faults(labels, [Span("m", 0, 300, "mewma")], {}, tolerance=10)["drift"]
    assert (s.detected, s.true_alarms, s.delay(0.5)) == (0, 1, None)


def test_rul_score_on_a_hand_made_life() -> None:
    # life 100 h; estimates every 10 h of the last 40
    truth = [40, 30, 20, 10]
    est = [50, 27, 20, math.inf]
    low = [45, 20, 15, math.inf]
    high = [60, 35, 25, math.inf]
    s = score_rul(truth, est, low, high, life=100, shares=(0.5, 0.25, 0.1))
    assert (s.points, s.missing) == (3, 1)
    assert s.mae == pytest.approx((10 + 3 + 0) / 3)
    assert s.coverage == pytest.approx(2 / 3)
    # nearest to 50 h left is 40 h left (error 10); 25 h left -> 30 h left (error 3); 10 h left has no estimate
    assert s.at_life_left == {0.5: 10.0, 0.25: 3.0, 0.1: None}
    with pytest.raises(ValueError, match="shapes differ"):
        score_rul([1, 2], [1], [1], [1], life=10)


def test_a_scheduled_stuck_sensor_and_bearing_fault_are_detected(tmp_path: Path) -> None:
    faults = [  # gripper pressure is rounded to 1 mbar, so it repeats by chance now and then
        {"asset": "robot-1", "kind": "stuck_sensor", "signal": "gripper_pressure", "start_h": 0.6,
         "duration_h": 0.2},
        {"asset": "cnc-3", "kind": "bearing_fault", "start_h": 0.7, "duration_h": 0.3},
    ]
    r = bench_faults.fault_bench(DEMO, hours=1.1, seeds=[3], per_day=0, baseline_h=0.5, tolerance_s=60,
                                 work=tmp_path, faults=faults)
    assert r["labels_scored"] == 2
    stuck = r["stuck_sensor"]
    assert stuck["recall_stuck-value"] == 1.0
    # the stuck detector alarms after 30 repeats at 1 Hz, more than it ever saw in the baseline
    assert 30 <= stuck["delay_median_s_stuck-value"] <= 60
    assert r["bearing_fault"]["recall"] == 1.0
    assert r["bearing_fault"]["delay_median_s"] < 15 * 60
    assert r["false_alarms_per_day"]["stuck-value"] == 0


def test_stuck_flags_skip_resting_values_but_not_chance_repeats() -> None:
    rng = np.random.default_rng(0)
    noisy = np.round(42 + 0.004 * rng.standard_normal(3000), 4)  # quantised: repeats by chance now and then
    idle = np.zeros(100)
    base = np.concatenate([noisy[:1000], idle, noisy[1000:2000]])
    chance = next(float(v) for v, w in itertools.pairwise(base) if v == w and v != 0)
    test = np.concatenate([noisy[2000:2500], np.full(100, chance), np.zeros(200), noisy[2500:]])
    flags = bench_faults.stuck_flags(base, test, margin=1.5)
    assert not flags[:500].any() and not flags[600:].any()  # noise, and a long idle spell at a resting value
    assert flags[500:600].sum() == 100 - 31  # the stuck value, once it has repeated more than 30 times


def _short_bearing_life(tmp_path: Path) -> Path:
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    for cell in raw["sites"][0]["areas"][0]["lines"][0]["cells"]:
        for asset in cell["assets"]:
            if asset["id"] == "cnc-2":
                asset["sim"]["failures"][0]["ttf"]["mean"] = 36_000  # ten operating hours instead of a hundred
    path = tmp_path / "short-life.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_rul_is_scored_on_the_simulated_bearing_lives(tmp_path: Path) -> None:
    r = bench_faults.rul_bench(_short_bearing_life(tmp_path), hours=60, seeds=[2], work=tmp_path, window_h=3,
                               baseline_op_h=0.5, bucket_h=0.25)
    assert r["asset"].endswith("/cnc-2") and r["complete_lives"] >= 2
    assert r["exponential"]["points"] > 10
    mean_life = sum(r["life_operating_h"]) / len(r["life_operating_h"])
    # far from perfect (see the notes), but an estimate that knew nothing would be off by about half a life
    assert r["exponential"]["mae_h"] < 0.35 * mean_life
    assert r["exponential"]["abs_error_h_at_10pct_left"] < 0.1 * mean_life


def test_bench_faults_command_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "faults.json"
    result = CliRunner().invoke(app, ["bench", "faults", "--hours", "0.8", "--baseline-h", "0.4", "--rul-hours", "0",
                                      "--faults-per-day", "60", "--replications", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "false_alarms_per_day" in result.output
    data = yaml.safe_load(out.read_text())  # JSON is YAML
    assert data["hours"] == 0.8 and data["seeds"] == [1, 2] and "rul" not in data
    assert data["labels"] >= data["labels_scored"]


def test_a_bad_config_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    raw["sites"][0]["areas"][0]["lines"][0]["simulation"]["signal_period_s"] = -1
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = CliRunner().invoke(app, ["bench", "faults", str(bad), "--hours", "0.5", "--rul-hours", "0"])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output
