"""The planning model reproduces textbook results (../shared/reference/line-validation.md).

The tolerance is always the 95 % confidence interval of independent replications, never a number chosen
to pass; seeds are fixed, so every run is reproducible.
"""

from __future__ import annotations

import itertools
import math

import pytest
from flow_lines import INFINITE, exponential, serial_line

from simulators.flow.estimate import mean_ci, within
from simulators.flow.replications import replicate

T_S = 10_000.0  # simulated seconds per replication (time unit: 1 s)
REPS = 8


def _run(line, seconds: float = T_S, reps: int = REPS, warmup_s: float = 500.0, seed: int = 11) -> list[dict]:
    return replicate(line, seconds / 3600, reps, seed, workers=1, warmup_h=warmup_s / 3600)


def _rate(results: list[dict]) -> dict:
    return mean_ci([r["throughput_per_hour"] / 3600 for r in results])


def _littles_law_holds(results: list[dict]) -> None:
    """Little's law on every run: WIP = departure rate x mean flow time, up to parts straddling the window."""
    for r in results:
        assert r["wip_area_s"] == pytest.approx(r["in_window_departed_s"] + r["in_window_inside_s"], rel=1e-9)
        edge = r["littles_edge_s"] / r["span_s"]
        assert abs(r["wip_mean"] - r["departures_per_s"] * r["flow_time_mean_s"]) <= edge + 1e-9 * r["wip_mean"]


def test_mm1() -> None:
    lam, mu = 0.8, 1.0
    line = serial_line([{"cycle_time": exponential(1 / mu)}],
                       simulation={"source": {"kind": "arrivals", "interarrival": exponential(1 / lam)}})
    results = _run(line)
    rho = lam / mu
    assert within(rho / (1 - rho), mean_ci([r["wip_mean"] for r in results]))  # L = 4
    assert within(1 / (mu - lam), mean_ci([r["flow_time_mean_s"] for r in results]))  # W = 5
    _littles_law_holds(results)


def test_mmc_erlang_c() -> None:
    lam, mu, c = 2.0, 1.0, 3
    line = serial_line([{"cycle_time": exponential(1 / mu), "parallel": c}],
                       simulation={"source": {"kind": "arrivals", "interarrival": exponential(1 / lam)}})
    results = _run(line)
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    erlang_c = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    assert erlang_c == pytest.approx(4 / 9)
    w = erlang_c / (c * mu - lam) + 1 / mu
    assert within(w, mean_ci([r["flow_time_mean_s"] for r in results]))  # W = 1.444444
    assert within(lam * w, mean_ci([r["wip_mean"] for r in results]))  # L = 2.888889
    _littles_law_holds(results)


def test_erlang_b_loss_system() -> None:
    lam, mu, c = 2.0, 1.0, 3
    line = serial_line([{"cycle_time": exponential(1 / mu), "parallel": c}], simulation={
        "source": {"kind": "arrivals", "interarrival": exponential(1 / lam), "queue_capacity": 0}})
    results = _run(line)
    a = lam / mu
    b = (a**c / math.factorial(c)) / sum(a**k / math.factorial(k) for k in range(c + 1))
    assert within(b, mean_ci([r["lost"] / (r["lost"] + r["released"]) for r in results]))


def _two_machine_exact(mu1: float, mu2: float, capacity: int) -> float:
    weights = [(mu1 / mu2) ** n for n in range(capacity + 3)]
    return mu2 * (1 - weights[0] / sum(weights))


@pytest.mark.parametrize(("capacity", "expected"), [(0, 2 / 3), (3, 0.833333), (8, 0.909091)])
def test_two_exponential_machines_with_a_finite_buffer(capacity: int, expected: float) -> None:
    assert _two_machine_exact(1.0, 1.0, capacity) == pytest.approx(expected, abs=1e-6)
    line = serial_line([{"cycle_time": exponential(1.0)}] * 2, [capacity or None])
    if capacity == 0:  # an explicit zero-capacity buffer is the same exact hand-over as none at all
        assert _rate(_run(line)) == _rate(_run(serial_line([{"cycle_time": exponential(1.0)}] * 2, [0])))
    results = _run(line)
    assert within(expected, _rate(results))
    _littles_law_holds(results)


def test_two_machine_throughput_is_symmetric() -> None:
    exact = _two_machine_exact(1.0, 2.0, 2)
    assert exact == pytest.approx(_two_machine_exact(2.0, 1.0, 2))
    forward = _rate(_run(serial_line([{"cycle_time": exponential(1.0)}, {"cycle_time": exponential(0.5)}], [2])))
    backward = _rate(_run(serial_line([{"cycle_time": exponential(0.5)}, {"cycle_time": exponential(1.0)}], [2])))
    assert within(exact, forward) and within(exact, backward)


def _unreliable(p: float, r: float) -> dict:
    """Buzacott's machine: unit cycle, fails with probability p per cycle worked, repaired with probability r
    per time unit (a geometric repair time with mean 1/r)."""
    return {"cycle_time": 1.0, "failures": [{"reason": "F1", "basis": "cycles",
                                             "ttf": {"kind": "geometric", "mean": 1 / p},
                                             "ttr": {"kind": "geometric", "mean": 1 / r}}]}


def test_buzacott_zero_buffer_limit() -> None:
    p, r = 0.01, 0.1
    results = _run(serial_line([_unreliable(p, r)] * 2), seconds=30_000)
    assert within(1 / (1 + 2 * p / r), _rate(results))  # 0.833333


@pytest.mark.parametrize("order", ["bottleneck first", "bottleneck last"])
def test_buzacott_infinite_buffer_limit(order: str) -> None:
    good, weak = _unreliable(0.01, 0.1), _unreliable(0.02, 0.1)  # isolated efficiencies 0.909091, 0.833333
    machines = [weak, good] if order == "bottleneck first" else [good, weak]
    results = _run(serial_line(machines, [INFINITE]), seconds=30_000, warmup_s=3_000)
    assert within(min(0.1 / 0.11, 0.1 / 0.12), _rate(results))


def test_finite_buffers_lie_between_the_limits_and_help_more_as_they_grow() -> None:
    p, r = 0.01, 0.1
    rates = [_rate(_run(serial_line([_unreliable(p, r)] * 2, [size]), seconds=30_000)) for size in (5, 25)]
    zero_buffer, infinite_buffer = 1 / (1 + 2 * p / r), r / (r + p)
    for est in rates:
        assert zero_buffer < est["ci95"][0] and est["ci95"][1] < infinite_buffer
    for smaller, larger in itertools.pairwise(rates):
        assert smaller["ci95"][1] < larger["ci95"][0]


def test_saturated_serial_line_runs_at_its_slowest_station() -> None:
    cycles = [10.0, 12.0, 9.0]
    exact = serial_line([{"cycle_time": c} for c in cycles])
    result = _run(exact, seconds=36_000, reps=1, warmup_s=100)[0]
    assert result["throughput_per_hour"] == pytest.approx(3600 / max(cycles), abs=0.1)
    noisy = [{"cycle_time": {"kind": "lognormal", "mean": c, "cv": 0.5}} for c in cycles]
    small, large = (_rate(_run(serial_line(noisy, [b, b]), seconds=50_000, reps=6)) for b in (1, 30))
    bottleneck_rate = 1 / max(cycles)
    assert small["ci95"][1] < large["ci95"][0]  # bigger buffers approach the bottleneck's rate ...
    assert large["mean"] <= bottleneck_rate <= large["ci95"][1]  # ... from below
