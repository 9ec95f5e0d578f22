"""Signals of the simulator (one model for the live plant and for data sets): degradation shows before the
failure, injected faults match their labels."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson
from flow_lines import serial_line

from plantmodel.telemetry import from_micros
from plantmodel.uns import format_ts
from simulators.dataset import write_dataset
from simulators.flow.line import FlowLine
from simulators.live_line import LineModel

BEARING = {"reason": "BEARING", "wear": "bearing", "ttf": {"kind": "weibull", "mean": 20 * 3600, "shape": 3},
           "ttr": 3600}


def test_bearing_wear_raises_vibration_as_the_remaining_life_runs_out() -> None:
    line = serial_line([{"cycle_time": 30, "failures": [BEARING]}])
    model = LineModel(line, 2, signal_period_s=60, record_rul=True)
    model.run_until(60 * 3600)
    assert model.rul is not None
    vib = {s.ts: s.value for s in model.drain() if s.signal == "vibration_rms" and s.value > 1}
    rul = [(r.t_s, r.rul_operating_s) for r in model.rul]
    assert rul and min(r for _, r in rul) < 3600  # it ran close to (and through) a bearing failure
    paired = [(r, vib[from_micros(round(t * 1e6))]) for t, r in rul if from_micros(round(t * 1e6)) in vib]
    fresh = [v for r, v in paired if r > 15 * 3600]
    worn = [v for r, v in paired if r < 3 * 3600]
    assert fresh and worn and np.mean(worn) > 1.5 * np.mean(fresh)


def test_tool_wear_raises_scrap_and_costs_changeovers() -> None:
    sharp = FlowLine(serial_line([{"cycle_time": 10}]), 1).run(hours=20)["stations"]["m1"]
    worn = FlowLine(serial_line([{"cycle_time": 10, "tool_life_parts": 200, "tool_change_s": 300,
                                  "tool_scrap_at_end": 0.3}]), 1).run(hours=20)
    st = worn["stations"]["m1"]
    assert sharp["scrap"] == 0 and 0.07 < st["scrap"] / (st["good"] + st["scrap"]) < 0.13  # 0.3/3 on average
    assert st["time_s"]["setup"] > 0


def test_injected_faults_show_in_their_signal_inside_their_labelled_window(tmp_path: Path) -> None:
    faults = [{"asset": "m1", "kind": "coolant_loss", "start_h": 4, "duration_h": 2},
              {"asset": "m1", "kind": "stuck_sensor", "signal": "power", "start_h": 7, "duration_h": 1}]
    line = serial_line([{"cycle_time": 30}], simulation={"faults": faults, "random_faults": {"per_day": 6}})
    counts = write_dataset(line, hours=10, seed=4, period_s=30, out=tmp_path, start_us=0)
    labels = [orjson.loads(x) for x in (tmp_path / "labels.jsonl").read_bytes().splitlines()]
    assert counts["labels"] == len(labels) >= 2
    assert {"coolant_loss", "stuck_sensor"} <= {lab["fault"] for lab in labels}
    series: dict[str, list[tuple[str, float]]] = defaultdict(list)
    with (tmp_path / "samples.csv").open() as f:
        for row in csv.DictReader(f):
            if row["signal"] in ("spindle_temperature", "power"):
                series[row["signal"]].append((row["ts"], float(row["value"])))
    coolant = next(lab for lab in labels if lab["fault"] == "coolant_loss")
    inside = [v for ts, v in series["spindle_temperature"] if coolant["start"] <= ts <= coolant["end"]]
    before = [v for ts, v in series["spindle_temperature"] if "1970-01-01T02:00" <= ts < coolant["start"]]
    assert max(inside) > max(before) + 10
    stuck = next(lab for lab in labels if lab["fault"] == "stuck_sensor" and lab["signal"] == "power")
    frozen = {v for ts, v in series["power"] if stuck["start"] <= ts <= stuck["end"]}
    assert len(frozen) == 1
    assert (tmp_path / "events.jsonl").stat().st_size > 0


def test_the_agv_reports_where_it_is(tmp_path: Path) -> None:
    line = serial_line([{"cycle_time": 30}, {"type": "agv", "capacity": 2, "ideal": 100}])
    model = LineModel(line, 1, signal_period_s=10)
    model.run_until(2 * 3600)
    agv = [s for s in model.drain() if s.asset.endswith("/m2")]
    assert {s.value for s in agv if s.signal == "mission"} == {"wait_for_load", "deliver", "return"}
    positions = [s.value for s in agv if s.signal == "position"]
    assert min(positions) == 0 and max(positions) == 120.0  # the default route length
    assert min(s.value for s in agv if s.signal == "battery") < 100


def test_real_time_mode_injects_the_same_faults_and_writes_their_labels(tmp_path: Path) -> None:
    from simulators.serve import write_labels

    faults = [{"asset": "m1", "kind": "coolant_loss", "start_h": 1, "duration_h": 1}]
    line = serial_line([{"cycle_time": 30}], simulation={"faults": faults, "signal_period_s": 10})
    model = LineModel(line, seed=1)
    model.start_us = 1_800_000_000_000_000
    model.run_until(3 * 3600)
    temps = sorted((s.ts, s.value) for s in model.drain() if s.signal == "spindle_temperature")
    assert write_labels([model], tmp_path / "labels.jsonl") == 1
    label = orjson.loads((tmp_path / "labels.jsonl").read_bytes())
    inside = [v for ts, v in temps if label["start"] <= format_ts(ts) <= label["end"]]
    before = [v for ts, v in temps if format_ts(ts) < label["start"]]
    assert label["fault"] == "coolant_loss" and label["signal"] == "spindle_temperature"
    assert max(inside) > max(before) + 10
