"""Routing networks against theory: an assembly station against its exact Markov chain, splits and a rework
loop against Jackson networks, a rigid transfer line against Buzacott, a vehicle fleet against hand counts.

The tolerance is the 95 % confidence interval of independent replications; seeds are fixed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from flow_lines import exponential, network_line, serial_line

from simulators.flow.estimate import mean_ci, within
from simulators.flow.replications import replicate

T_S = 20_000.0
REPS = 8


def _run(line, seconds: float = T_S, reps: int = REPS, warmup_s: float = 500.0, seed: int = 11) -> list[dict]:
    return replicate(line, seconds / 3600, reps, seed, workers=1, warmup_h=warmup_s / 3600)


def _ci(results: list[dict], key: str, scale: float = 1.0) -> dict:
    return mean_ci([r[key] * scale for r in results])


def _littles_law_holds(results: list[dict]) -> None:
    for r in results:
        edge = r["littles_edge_s"] / r["span_s"]
        assert abs(r["wip_mean"] - r["departures_per_s"] * r["flow_time_mean_s"]) <= edge + 1e-9 * r["wip_mean"]


def assembly_rate(mu1: float, mu2: float, mu3: float, n1: int, n2: int) -> float:
    """Exact throughput of two machines (never starved) feeding buffers of n1, n2 places, and an assembly
    machine taking one part of each at once (never blocked); exponential times, blocking after service.

    State (x1, x2, busy): x_i counts finished parts of input i (in its buffer, or held by its machine while
    blocked, so machine i works while x_i <= n_i); the assembly machine starts the instant both are there.
    """
    states = [(x1, x2, b) for x1 in range(n1 + 2) for x2 in range(n2 + 2) for b in (0, 1)
              if not (b == 0 and x1 >= 1 and x2 >= 1)]  # idle with both inputs present: left at once
    index = {s: i for i, s in enumerate(states)}

    def settle(x1: int, x2: int, b: int) -> tuple[int, int, int]:
        return (x1 - 1, x2 - 1, 1) if b == 0 and x1 >= 1 and x2 >= 1 else (x1, x2, b)

    q = np.zeros((len(states), len(states)))
    for (x1, x2, b), i in index.items():
        if x1 <= n1:
            q[i, index[settle(x1 + 1, x2, b)]] += mu1
        if x2 <= n2:
            q[i, index[settle(x1, x2 + 1, b)]] += mu2
        if b:
            q[i, index[settle(x1, x2, 0)]] += mu3
    np.fill_diagonal(q, -q.sum(axis=1))
    a = q.T.copy()
    a[-1, :] = 1.0
    rhs = np.zeros(len(states))
    rhs[-1] = 1.0
    pi = np.linalg.solve(a, rhs)
    return float(mu3 * sum(pi[i] for (_, _, b), i in index.items() if b))


def test_assembly_matches_its_markov_chain() -> None:
    mu1, mu2, mu3, n1, n2 = 1.0, 1.2, 1.1, 2, 1
    line = network_line([
        {"id": "m1", "sim": {"cycle_time": exponential(1 / mu1)}},
        {"id": "b1", "type": "buffer", "capacity": n1},
        {"id": "m2", "sim": {"cycle_time": exponential(1 / mu2)}},
        {"id": "b2", "type": "buffer", "capacity": n2},
        {"id": "m3", "sim": {"cycle_time": exponential(1 / mu3), "merge": "assemble"}}],
        [["m1", "b1", "m3"], ["m2", "b2", "m3"]])
    results = _run(line)
    exact = assembly_rate(mu1, mu2, mu3, n1, n2)
    assert 0.7 < exact < 0.8
    assert within(exact, _ci(results, "throughput_per_hour", 1 / 3600))
    for r in results:  # one part of each input per assembly: the second input's parts are joined in
        assert abs(r["joined"] - r["good"]) <= n2 + 2
    _littles_law_holds(results)


def test_assembly_from_stations_directly_matches_the_chain_with_no_buffers() -> None:
    line = network_line([
        {"id": "m1", "sim": {"cycle_time": exponential(1.0)}},
        {"id": "m2", "sim": {"cycle_time": exponential(1.0)}},
        {"id": "m3", "sim": {"cycle_time": exponential(1.0), "merge": "assemble"}}],
        [["m1", "m3"], ["m2", "m3"]])
    assert within(assembly_rate(1.0, 1.0, 1.0, 0, 0), _ci(_run(line), "throughput_per_hour", 1 / 3600))


def test_random_split_is_two_independent_mm1_queues() -> None:
    """Jackson: Poisson arrivals split at random are Poisson, each branch an M/M/1 queue."""
    lam, mu = 1.2, 1.0
    line = network_line([
        {"id": "q", "type": "buffer", "capacity": ".inf", "sim": {"split": "random"}},
        {"id": "m1", "sim": {"cycle_time": exponential(1 / mu)}},
        {"id": "m2", "sim": {"cycle_time": exponential(1 / mu)}}],
        [["q", "m1"], ["q", "m2"]], simulation={"source": {"kind": "arrivals", "interarrival": exponential(1 / lam)}})
    results = _run(line)
    rho = lam / 2 / mu
    assert within(2 * rho / (1 - rho), _ci(results, "wip_mean"))  # L = 3
    assert within(1 / (mu - lam / 2), _ci(results, "flow_time_mean_s"))  # W = 2.5
    assert within(1 / (mu - lam / 2) - 1 / mu, _ci(results, "queue_wait_mean_s"))  # Wq = 1.5
    _littles_law_holds(results)


def test_first_free_split_is_one_mmc_queue_and_beats_random() -> None:
    lam, mu = 1.2, 1.0
    rows = {}
    for rule in ("first_free", "shortest_queue", "round_robin"):
        line = network_line([
            {"id": "q", "type": "buffer", "capacity": ".inf", "sim": {"split": rule}},
            {"id": "m1", "sim": {"cycle_time": exponential(1 / mu)}},
            {"id": "m2", "sim": {"cycle_time": exponential(1 / mu)}}],
            [["q", "m1"], ["q", "m2"]],
            simulation={"source": {"kind": "arrivals", "interarrival": exponential(1 / lam)}})
        rows[rule] = _ci(_run(line, seconds=10_000), "flow_time_mean_s")
    a, c = lam / mu, 2
    top = a**c / math.factorial(c) * c / (c - a)
    erlang_c = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    assert within(erlang_c / (c * mu - lam) + 1 / mu, rows["first_free"])  # M/M/2: W = 1.5625
    for rule in ("shortest_queue", "round_robin"):  # better than random's 2.5, worse than one shared queue
        assert rows["first_free"]["mean"] < rows[rule]["mean"] < 2.5


def test_rework_loop_is_a_queue_with_bernoulli_feedback() -> None:
    """Jackson with feedback: an M/M/1 queue whose departures return with probability p behaves as one
    with arrivals lambda / (1 - p): L = rho / (1 - rho), and W = L / lambda by Little."""
    lam, mu, p = 0.5, 1.0, 0.2
    line = network_line([
        {"id": "q", "type": "buffer", "capacity": ".inf"},
        {"id": "m1", "sim": {"cycle_time": exponential(1 / mu), "rework_rate": p, "rework_to": "q"}}],
        [["q", "m1"]], simulation={"source": {"kind": "arrivals", "interarrival": exponential(1 / lam)}})
    results = _run(line)
    rho = lam / (1 - p) / mu
    assert within(rho / (1 - rho), _ci(results, "wip_mean"))
    assert within(rho / (1 - rho) / lam, _ci(results, "flow_time_mean_s"))
    _littles_law_holds(results)


def test_rework_limit_scraps_parts_that_keep_failing() -> None:
    line = network_line([
        {"id": "q", "type": "buffer", "capacity": ".inf"},
        {"id": "m1", "sim": {"cycle_time": 1.0, "rework_rate": 0.5, "rework_to": "q", "rework_limit": 1}}],
        [["q", "m1"]], simulation={"source": {"kind": "arrivals", "interarrival": exponential(4.0)}})
    results = _run(line, seconds=5000, reps=3)
    for r in results:  # a part needs rework twice in a row with probability 1/4: then it is scrapped
        assert r["scrap"] / (r["scrap"] + r["good"]) == pytest.approx(0.25, abs=0.05)


def test_product_routing_chooses_the_branch() -> None:
    line = network_line([
        {"id": "m0", "sim": {"cycle_time": 1.0, "split": "round_robin"}},
        {"id": "ma", "sim": {"cycle_time": 1.0}},
        {"id": "mb", "sim": {"cycle_time": 1.0}},
        {"id": "b", "type": "buffer", "capacity": 4},
        {"id": "end", "sim": {"cycle_time": 0.5}}],
        [["m0", "ma", "b", "end"], ["m0", "mb", "b"]],
        simulation={"products": [{"id": "pa", "share": 3, "routing": ["m0", "ma", "end"]},
                                 {"id": "pb", "share": 1, "routing": ["m0", "mb", "end"]}]})
    r = _run(line, seconds=4000, reps=1)[0]
    assert r["stations"]["ma"]["good"] == pytest.approx(3 * r["stations"]["mb"]["good"], rel=0.15)


def test_rigid_transfer_line_matches_buzacott() -> None:
    """Deterministic cycle c, operation-dependent failures: efficiency 1 / (1 + sum MTTR_i / MTBF_i)."""
    stations = [{"cycle_time": 1.0, "mtbf_s": 100, "mttr_s": m} for m in (10, 5, 15)]
    results = _run(serial_line(stations, simulation={"transfer": "synchronous"}))
    assert within(1 / (1 + 0.3), _ci(results, "throughput_per_hour", 1 / 3600))
    # one stop stops all: every station is down or waiting exactly while any one is under repair
    for r in results:
        times = [r["stations"][s]["time_s"] for s in ("m1", "m2", "m3")]
        assert sum(t.get("down", 0.0) for t in times) == pytest.approx(
            r["span_s"] - r["good"] * 1.0, rel=0.02)


def test_asynchronous_line_with_buffers_beats_the_rigid_one() -> None:
    stations = [{"cycle_time": 1.0, "mtbf_s": 100, "mttr_s": 10}] * 3
    rigid = _ci(_run(serial_line(stations, simulation={"transfer": "synchronous"}), seconds=5000), "good")
    buffered = _ci(_run(serial_line(stations, buffers=[20, 20]), seconds=5000), "good")
    assert buffered["ci95"][0] > rigid["ci95"][1]


def test_unlimited_buffer_is_written_as_infinity() -> None:
    line = serial_line([{"cycle_time": 1.0}, {"cycle_time": 2.0}], buffers=[".inf"])
    assert line.asset("b1").config.limit is None and math.isinf(line.asset("b1").config.capacity)
    r = _run(line, seconds=1000, reps=1, warmup_s=0)[0]
    assert r["buffers"]["b1"]["blocked"] == 0 and r["buffers"]["b1"]["level_mean"] > 200


def _fleet(vehicles: int, dispatch: str = "first_idle", battery: dict | None = None) -> dict:
    fleet = {"vehicles": vehicles, "dispatch": dispatch, "speed_m_s": 1.0,
             "distances": [{"between": ["m1", "exit"], "m": 50}, {"between": ["exit", "charger"], "m": 10},
                           {"between": ["m1", "charger"], "m": 60}]}
    if battery:
        fleet["battery"] = battery
    return {"id": "agv", "type": "agv", "capacity": 1, "sim": {"fleet": fleet}}


def test_fleet_moves_parts_at_the_rate_its_round_trips_allow() -> None:
    """Each part: 50 m out, 50 m back at 1 m/s; n vehicles move n parts per 100 s when parts are always there."""
    for n in (1, 3):
        line = network_line([{"id": "m1", "sim": {"cycle_time": 1.0}}, _fleet(n)], [["m1", "agv"]])
        r = _run(line, seconds=10_000, reps=1, warmup_s=0)[0]
        assert r["good"] == pytest.approx(n * 10_000 / 100, abs=n)


def test_fleet_battery_charging_costs_its_time() -> None:
    """100 Wh at 0.1 Wh/m: 5 Wh a leg of 50 m. From 90 Wh, the 8th delivery leaves 15 Wh (< 20 %): 1 Wh to
    the charger, 76 Wh at 400 W (684 s); 8 parts by 750 + 10 + 684 = 1444 s. Then each cycle: 6 Wh back to
    m1, 7 deliveries (19 Wh left), 1 Wh to charge, 72 Wh (648 s): 7 parts per 60 + 50 + 600 + 10 + 648 =
    1368 s. The first part is ready at 1 s: 8 + 10 x 7 parts by 15 125 s, then 7 more (the last at 15 835 s),
    and the 11th charge has run 55 s when the run ends at 15 900 s: 85 parts."""
    battery = {"capacity_wh": 100, "consumption_wh_per_m": 0.1, "charge_w": 400, "low_pct": 20, "full_pct": 90}
    line = network_line([{"id": "m1", "sim": {"cycle_time": 1.0}}, _fleet(1, battery=battery)], [["m1", "agv"]])
    r = _run(line, seconds=15_900, reps=1, warmup_s=0)[0]
    assert r["good"] == 85
    assert r["stations"]["agv"]["time_s"]["idle"] == pytest.approx(684 + 10 * 648 + 55)


def test_nearest_dispatch_sends_the_vehicle_closest_to_the_pickup() -> None:
    results = {}
    for rule in ("first_idle", "nearest"):
        line = network_line([{"id": "m1", "sim": {"cycle_time": exponential(80.0)}}, _fleet(2, rule)],
                            [["m1", "agv"]])
        results[rule] = _ci(_run(line, seconds=20_000, reps=4), "flow_time_mean_s")
    # first_idle takes the vehicle idle longest, wherever it is; nearest one already at m1 when there is one
    assert results["nearest"]["mean"] <= results["first_idle"]["mean"] + 1e-9


def test_every_shape_keeps_littles_law_and_reports_queues() -> None:
    line = network_line([
        {"id": "m1", "sim": {"cycle_time": exponential(1.0), "scrap_rate": 0.05}},
        {"id": "b1", "type": "buffer", "capacity": 3},
        {"id": "m2", "sim": {"cycle_time": exponential(0.8)}},
        {"id": "b2", "type": "buffer", "capacity": 3},
        {"id": "m3", "sim": {"cycle_time": exponential(0.9), "merge": "assemble", "rework_rate": 0.1,
                             "rework_to": "b1"}},
        {"id": "b3", "type": "buffer", "capacity": 2, "sim": {"split": "shortest_queue"}},
        {"id": "m4", "sim": {"cycle_time": exponential(2.4)}},
        {"id": "m5", "sim": {"cycle_time": exponential(2.4)}}],
        [["m1", "b1", "m3", "b3", "m4"], ["m2", "b2", "m3"], ["b3", "m5"]])
    results = _run(line, seconds=5000, reps=4)
    _littles_law_holds(results)
    for r in results:
        assert r["good"] + r["scrap"] + r["joined"] == pytest.approx(r["released"], abs=20)
        assert set(r["buffers"]) == {"b1", "b2", "b3"}
        assert 0 < r["buffers"]["b3"]["blocked"] < r["buffers"]["b3"]["offered"]


@pytest.mark.parametrize(("links", "sim", "expected"), [
    ([["m1", "b1", "m2"], ["m2", "b1"]], {}, "a cycle"),
    ([["m1", "b1"], ["m1", "m2"]], {}, "feeds nothing"),
    ([["m1", "m2"]], {}, "'b1' is on no path of links"),
    ([["m1", "b1", "m2"]], {"m2": {"merge": "assemble"}}, "assemble needs two inputs"),
    ([["m1", "b1", "m2"]], {"m1": {"rework_rate": 0.1, "rework_to": "b1"}}, "'b1' is not upstream of 'm1'"),
    ([["m1", "b1", "m2"]], {"m2": {"rework_rate": 0.1, "rework_to": "m1"}}, "'m1' is not a buffer"),
    ([["m1", "b1", "m2"], ["b1", "m1x"]], {}, "'m1x' is not in the line's flow"),
])
def test_impossible_networks_are_refused(links, sim, expected) -> None:
    from pydantic import ValidationError

    assets = [{"id": "m1", "sim": sim.get("m1", {})}, {"id": "b1", "type": "buffer", "capacity": 2},
              {"id": "m2", "sim": sim.get("m2", {})}]
    with pytest.raises(ValidationError) as err:
        network_line(assets, links)
    assert expected in str(err.value)


def test_rigid_line_refuses_buffers() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="synchronous transfer line has no buffers"):
        serial_line([{"cycle_time": 1.0}, {"cycle_time": 1.0}], buffers=[2], simulation={"transfer": "synchronous"})


def test_serial_results_do_not_change_with_the_network_builder() -> None:
    """A serial line written as links is the same line: same streams, same results."""
    assets = [{"id": "m1", "sim": {"cycle_time": exponential(1.0), "mtbf_s": 50, "mttr_s": 5}},
              {"id": "b1", "type": "buffer", "capacity": 2}, {"id": "m2", "sim": {"cycle_time": exponential(1.1)}}]
    serial = network_line(assets, [])
    linked = network_line(assets, [["m1", "b1", "m2"]])
    a, b = _run(serial, seconds=2000, reps=2), _run(linked, seconds=2000, reps=2)
    assert [r["good"] for r in a] == [r["good"] for r in b]




def _example_lines() -> list:
    from support import PROJECT

    from plantmodel.config import load_config
    from plantmodel.plant import PlantConfig

    out = []
    for name in ("demo-plant", "automotive-plant", "electronics-smt-plant", "pharma-packaging-plant"):
        plant = load_config(PROJECT / "configs" / f"{name}.yaml", PlantConfig)
        out += [pytest.param(line, id=f"{name}:{line.config.id}") for line in plant.lines()]
    return out


@pytest.mark.parametrize("line", _example_lines())
def test_littles_law_on_every_example_plant(line) -> None:
    """WIP and lead time count the same parts over the same lives: L = (parts ended per second) x W, up to the
    parts straddling the window (a line closed for the night at the end of the run holds many)."""
    results = replicate(line, 10, 2, 7, workers=1)
    _littles_law_holds(results)
