"""What-if planning: the analytical estimate is exact where theory is, and `sim plan` reports variants with CIs."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from flow_lines import exponential, serial_line
from support import PROJECT

from analytics.flowline import Machine, serial_line_rate, two_machine_rate
from planning.line_estimate import estimate
from simulators.flow.estimate import mean_ci, within
from simulators.flow.replications import replicate


@pytest.mark.parametrize(("capacity", "expected"), [(0, 2 / 3), (3, 0.833333), (8, 0.909091)])
def test_two_machine_chain_matches_the_birth_death_result(capacity: int, expected: float) -> None:
    assert two_machine_rate(Machine(1.0), Machine(1.0), capacity) == pytest.approx(expected, abs=1e-6)


def test_unreliable_pair_lies_between_buzacotts_limits_and_grows_with_the_buffer() -> None:
    m = Machine(mu=1.0, p=0.01, r=0.1)
    rates = [two_machine_rate(m, m, c) for c in (0, 5, 25, 100)]
    assert all(a < b for a, b in itertools.pairwise(rates))
    assert rates[-1] < m.capacity


def test_estimate_of_an_exponential_two_machine_line_agrees_with_the_simulation() -> None:
    line = serial_line([{"cycle_time": exponential(10.0), "mtbf_s": 2000, "mttr_s": 200},
                        {"cycle_time": exponential(12.0)}], [4])
    est = estimate(line)["throughput_per_hour"]
    results = replicate(line, 20, 8, seed=3, workers=1, warmup_h=1)
    assert within(est, mean_ci([r["throughput_per_hour"] for r in results]))


def test_longer_lines_are_limited_by_their_slowest_pair() -> None:
    fast, slow = Machine(1.0), Machine(0.5)
    result = serial_line_rate([fast, fast, slow, fast], [5, 5, 5])
    assert result["limiting"] in (1, 2)
    assert result["estimate"] < result["infinite_buffer_limit"] == pytest.approx(0.5)


def test_sim_plan_reports_variants_against_the_baseline(tmp_path: Path) -> None:
    scenario = tmp_path / "whatif.yaml"
    scenario.write_text(f"plant: {PROJECT / 'configs' / 'demo-plant.yaml'}\nhours: 4\nreplications: 3\n"
                        "variants:\n  - {name: second cnc-2, set: {cnc-2.sim.parallel: 2}}\n"
                        "sweeps:\n  - {key: buf-1.capacity, values: [1]}\n")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "sim", "plan", str(scenario), "--workers", "1",
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    plan = orjson.loads((out / "plan.json").read_bytes())
    names = [v["name"] for v in plan["variants"]]
    assert names == ["baseline", "second cnc-2", "buf-1.capacity=1"]
    second = plan["variants"][1]
    assert second["delta_vs_baseline"]["ci95"][0] > 0  # a second bottleneck machine helps, with confidence
    assert second["estimate"] > plan["variants"][0]["estimate"]
    html = (out / "plan.html").read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "second cnc-2" in html


def test_sim_plan_names_a_bad_variant_key(tmp_path: Path) -> None:
    scenario = tmp_path / "whatif.yaml"
    scenario.write_text(f"plant: {PROJECT / 'configs' / 'demo-plant.yaml'}\n"
                        "variants:\n  - {name: typo, set: {cnc-7.sim.parallel: 2}}\n"
                        "  - {name: bad, set: {buf-1.capacity: -1}}\n")
    result = subprocess.run([sys.executable, "-m", "factory_twin", "sim", "plan", str(scenario)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "variants[0].set.cnc-7.sim.parallel: 'cnc-7' is neither an asset" in result.stderr
    assert "Traceback" not in result.stderr
