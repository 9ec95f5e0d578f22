"""The planning model's behaviour: events for every state change and part, shifts, changeovers, rework,
operators, determinism across worker counts, and the `sim run` command's report."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest
from flow_lines import exponential, serial_line
from support import PROJECT

from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import AssetState, EventKind
from simulators.flow.line import FlowLine
from simulators.flow.replications import replicate

DEMO = load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig).lines()[0]


def test_every_state_change_and_part_is_a_timestamped_event() -> None:
    model = FlowLine(DEMO, 3, record_events=True, start_us=1_700_000_000_000_000)
    result = model.run(hours=4)
    assert model.events
    last_state: dict[tuple[str, int], str] = {}
    parts: Counter[tuple[str, str]] = Counter()
    for prev, ev in itertools.pairwise(model.events):
        assert prev.ts <= ev.ts
    for ev in model.events:
        if ev.kind is EventKind.STATE_CHANGE:
            key = (ev.asset, ev.data.get("server", 0))
            assert ev.data["from"] == last_state.get(key, "idle") and ev.data["to"] != ev.data["from"]
            last_state[key] = ev.data["to"]
            if ev.data["to"] == "down":
                assert ev.data["reason"] == "F-GENERIC"
        elif ev.kind is EventKind.PART:
            parts[(ev.asset.rsplit("/", 1)[-1], ev.data["outcome"])] += 1
    for sid, st in result["stations"].items():
        assert parts[(sid, "good")] == st["good"] and parts[(sid, "scrap")] == st["scrap"]
    alarms = [ev for ev in model.events if ev.kind is EventKind.ALARM]
    assert alarms and {ev.data["alarm_code"] for ev in alarms} == {"F-GENERIC"}
    assert sum(1 for ev in alarms if ev.data["active"]) == sum(st["failures"] for st in result["stations"].values())


def _share(result: dict, station: str, state: str) -> float:
    times = result["stations"][station]["time_s"]
    return times.get(state, 0.0) / sum(times.values())


def test_shift_calendar_stops_every_station_for_breaks_and_off_shift() -> None:
    calendar = {"shifts": [{"name": "early", "start": "06:00", "end": "14:00",
                            "breaks": [{"start": "10:00", "end": "10:30"}]},
                           {"name": "late", "start": "14:00", "end": "22:00",
                            "breaks": [{"start": "21:00", "end": "22:00", "kind": "maintenance"}]}]}
    line = serial_line([{"cycle_time": 10}, {"cycle_time": 12}], [5], simulation={"calendar": calendar})
    model = FlowLine(line, 1, record_events=True)
    result = model.run(hours=48)
    planned = (8 + 0.5 + 1) / 24  # off shift 22:00-06:00, a break, maintenance
    for station in ("m1", "m2"):
        # a part in progress at a stop is finished first, so a station stops up to one cycle late
        assert _share(result, station, "planned_stop") == pytest.approx(planned, abs=2 * 12 / (24 * 3600))
    reasons = {ev.data.get("reason") for ev in model.events if ev.data.get("to") == "planned_stop"}
    assert reasons == {"off_shift", "break", "maintenance"}
    # 17.5 h of production a day at the bottleneck's 12 s
    assert result["good"] == pytest.approx(2 * 14.5 * 3600 / 12, rel=0.01)


def test_a_shift_around_the_clock_never_stops_the_line() -> None:
    around = {"shifts": [{"name": "all day", "start": "00:00", "end": "00:00"}]}
    line = serial_line([{"cycle_time": 10}], simulation={"calendar": around})
    result = FlowLine(line, 1).run(hours=30)
    assert "planned_stop" not in result["stations"]["m1"]["time_s"]
    assert result["good"] == 30 * 360 - 1  # the part due at the very end is not counted


def test_changeovers_happen_when_the_product_changes_and_routings_skip_stations() -> None:
    sim = {"products": [{"id": "a", "share": 1}, {"id": "b", "share": 1, "routing": ["m1", "m3"]}]}
    line = serial_line([{"cycle_time": 10, "setup_time": 60}, {"cycle_time": 10}, {"cycle_time": 10}], [3, 3],
                       simulation=sim)
    result = FlowLine(line, 2).run(hours=10)
    st = result["stations"]
    assert _share(result, "m1", "setup") > 0.5  # about every other part changes over
    assert _share(result, "m2", "setup") == 0
    assert st["m2"]["good"] < 0.7 * st["m3"]["good"]  # product b skips m2


def test_scrap_and_rework_with_first_pass_yield() -> None:
    line = serial_line([{"cycle_time": 10, "scrap_rate": 0.1, "rework_rate": 0.2}])
    st = FlowLine(line, 4).run(hours=50)["stations"]["m1"]
    produced = st["good"] + st["scrap"] + st["rework"]
    assert st["good"] / produced == pytest.approx(0.7, abs=0.02)  # first-pass yield
    assert st["scrap"] / produced == pytest.approx(0.1, abs=0.01)


def test_a_single_operator_makes_two_machines_wait_for_repairs() -> None:
    failing = {"cycle_time": 10, "mtbf_s": 600, "mttr_s": 300, "operator_for": ["repair"]}
    alone = FlowLine(serial_line([failing, failing], [1000]), 5).run(hours=200)
    shared = FlowLine(serial_line([failing, failing], [1000], simulation={"operators": 1}), 5).run(hours=200)
    assert shared["stations"]["m1"]["time_s"]["down"] > 1.05 * alone["stations"]["m1"]["time_s"]["down"]


def test_conveyor_adds_its_transport_time_to_the_lead_time() -> None:
    slow = [{"cycle_time": 10}, {"type": "conveyor", "cycle_time": 2, "transport_time_s": 120, "capacity": 20},
            {"cycle_time": 10}]
    fast = [slow[0], {"type": "conveyor", "cycle_time": 2}, slow[2]]
    a, b = (FlowLine(serial_line(s), 1).run(hours=2, warmup_h=0.5) for s in (slow, fast))
    assert a["flow_time_mean_s"] == pytest.approx(b["flow_time_mean_s"] + 120, abs=1)
    assert a["throughput_per_hour"] == pytest.approx(b["throughput_per_hour"], rel=0.01)


def test_same_seed_same_results_whatever_the_number_of_workers() -> None:
    one = replicate(DEMO, 2, 6, seed=9, workers=1)
    two = replicate(DEMO, 2, 6, seed=9, workers=2)
    assert one == two
    assert replicate(DEMO, 2, 6, seed=10, workers=1) != one


def test_sim_run_prints_a_table_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "sim", "run", str(PROJECT / "configs" /
                            "demo-plant.yaml"), "--hours", "2", "--replications", "4", "--seed", "1",
                             "--workers", "2", "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "throughput" in result.stdout and "cnc-2" in result.stdout
    rep = orjson.loads(out.read_bytes())
    low, high = rep["throughput_per_hour"]["ci95"]
    assert low <= rep["throughput_per_hour"]["mean"] <= high
    assert rep["wip_mean"] > 0 and rep["lead_time_mean_s"] > 0
    assert rep["littles_law_max_rel_gap"] <= rep["littles_law_max_rel_edge"] + 1e-9
    for st in rep["stations"].values():
        assert {"utilisation", "availability", "performance", "quality", "oee", "states"} <= set(st)
        assert sum(st["states"].values()) == pytest.approx(1.0)
        assert st["oee"] == pytest.approx(st["availability"] * st["performance"] * st["quality"], rel=0.05)
    assert rep["bottleneck"]["station"] == "cnc-2"  # the slowest machine with the most down time


def test_events_counts_are_kept_per_state() -> None:
    model = FlowLine(serial_line([{"cycle_time": exponential(1.0)}] * 2, [0]), 1, record_events=True)
    model.run(hours=0.1)
    seen = defaultdict(set)
    for ev in model.events:
        if ev.kind is EventKind.STATE_CHANGE:
            seen[ev.asset.rsplit("/", 1)[-1]].add(ev.data["to"])
    assert {str(AssetState.BLOCKED), str(AssetState.PRODUCING)} <= seen["m1"]
    assert {str(AssetState.STARVED), str(AssetState.PRODUCING)} <= seen["m2"]


def test_real_time_mode_publishes_what_the_planning_model_does() -> None:
    from simulators.live_line import LineModel

    model = LineModel(DEMO, seed=5)
    model.run_until(4 * 3600)
    samples = model.drain()
    for station in model.flow.stations:  # counters on the wire are the flow model's own
        last = max((s for s in samples if s.asset == station.path and s.signal == "parts_good"),
                   key=lambda s: s.ts, default=None)
        if station.asset.type != "agv":
            assert last is not None and last.value == station.good
    alarms = [s for s in samples if s.signal == "alarm_code"]
    assert {s.value for s in alarms} >= {"F-GENERIC", "none"}
    down = {(s.asset, s.ts) for s in samples if s.signal == "state" and s.value == "down"}
    assert {(s.asset, s.ts) for s in alarms if s.value != "none"} <= down
    levels = [s.value for s in samples if s.signal == "level"]
    assert levels and max(levels) <= 12


def test_bench_sim_writes_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "sim", "--days", "0.5",
                             "--replications", "4", "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = orjson.loads(out.read_bytes())
    assert {"sim_days_per_wall_s", "events_per_s", "bare_chain_sim_days_per_wall_s", "speed_ratio_vs_bare_chain",
            "rss_mb", "replications_4x8h_wall_s_by_workers", "load_average_before"} <= set(data)
    assert data["events"] > 0 and data["speed_ratio_vs_bare_chain"] > 0
