"""The analytical estimate of a configured line: each station reduced to (mu, p, r, yield) for analytics.flowline.

What the reduction keeps: mean cycle (with micro-stops, rework and expected changeovers folded in),
parallel machines as one faster machine, every failure mode as one exponential rate with the modes'
mean repair time, cycle-based failures as a rate per working second, scrap as the good fraction, and
the shift calendar's open share. What it drops: operators, cycle-time variability beyond exponential,
and product routings (every part is taken to visit every station).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TypedDict

from analytics.flowline import MAX_STATES, Machine, serial_line_rate
from plantmodel.catalog import AssetRole, AssetType
from plantmodel.plant import Asset, Line
from plantmodel.routing import graph
from plantmodel.shifts import ShiftCalendarConfig, ShiftPlan, planned_stops, run_origin
from plantmodel.telemetry import to_micros

WEEK_US = 7 * 86_400 * 1_000_000


class LineEstimate(TypedDict):
    throughput_per_hour: float  # good parts per hour, the calendar's open share taken into account
    infinite_buffer_limit_per_hour: float  # the same with unlimited buffers (the slowest station or stage)
    limiting: str  # the pair (`a>b`), stage or station that sets the estimate; `line` for a rigid line


def open_share(calendar: ShiftCalendarConfig | None, origin: datetime | None = None) -> float:
    """Share of the week from `origin` (default: the simulator's, a Monday 00:00) that the line is planned
    open: the calendar's planned stops (`planned_stops`, what closes the simulated line) taken out."""
    if calendar is None:
        return 1.0
    start = to_micros(run_origin(origin, calendar.tz))
    closed = sum(e - s for s, e, _ in planned_stops(ShiftPlan(calendar, calendar.tz), start, start + WEEK_US))
    return 1 - closed / WEEK_US


def _machine(asset: Asset, line: Line) -> Machine:
    sim, cfg = asset.config.sim, asset.config
    if sim.cycle_time is not None:
        cycle = sim.cycle_time.expected
    else:
        cycle = sim.cycle_time_s or cfg.ideal_cycle_time_s or 1.0
    if asset.role is AssetRole.TRANSPORT and sim.fleet is None:  # a fleet's cycle is one part's round trip
        cycle = 2 * cycle / (cfg.limit or 1)
    cycle /= sim.batch_size if asset.role is not AssetRole.TRANSPORT else 1
    if sim.micro_stops:
        cycle += sim.micro_stops.probability * sim.micro_stops.duration.expected
    cycle += sim.rework_rate * (sim.rework_time.expected if sim.rework_time else cycle)
    products = line.config.simulation.products
    if sim.setup_time and len(products) > 1:
        total = sum(p.share for p in products)
        # Lots drawn at random by share: the next lot differs with probability 1 - sum(share^2).
        lot_mean = sum(p.share / total * p.lot_size for p in products)
        change = (1 - sum((p.share / total) ** 2 for p in products)) / lot_mean
        cycle += change * sim.setup_time.expected / sim.batch_size
    rates, repair = [], []
    if sim.mtbf_s:
        rates.append(1 / sim.mtbf_s)
        repair.append(sim.mttr_s)
    for mode in sim.failures:
        per_s = 1 / mode.ttf.expected if mode.basis == "time" else 1 / (mode.ttf.expected * cycle)
        rates.append(per_s)
        repair.append(mode.ttr.expected)
    p = sum(rates)
    mttr = sum(r * t for r, t in zip(rates, repair, strict=True)) / p if p else 1.0
    servers = sim.fleet.vehicles if sim.fleet is not None else sim.parallel
    return Machine(mu=servers / cycle, p=p, r=1 / mttr, good_fraction=1 - sim.scrap_rate)


def _belt(asset: Asset) -> int:
    """Parts a conveyor holds between its neighbours; an unlimited belt (.inf) counts as the largest buffer the
    pairwise model solves (which is what any larger buffer comes to)."""
    capacity = asset.config.capacity
    if capacity is None:
        return 0
    return MAX_STATES if math.isinf(capacity) else int(capacity)


def _network_bound(line: Line) -> LineEstimate:
    """A network's (or rigid line's) estimate: the slowest stage's capacity, siblings fed from the same place
    adding up; a rigid line's slowest cycle over Buzacott's 1 + sum p/r. Bounds from above (no blocking)."""
    g = graph(line.config.flow, line.config.links)
    stations = [line.asset(a) for a in line.config.flow if line.asset(a).role is not AssetRole.BUFFER]
    machines = {a.id: _machine(a, line) for a in stations}
    share = open_share(line.config.simulation.calendar)
    if line.config.simulation.transfer == "synchronous":
        rate = min(m.mu for m in machines.values()) / (1 + sum(m.p / m.r for m in machines.values()))
        good = 1.0
        for m in machines.values():
            good *= m.good_fraction
        per_hour = rate * good * 3600 * share
        return {"throughput_per_hour": per_hour, "infinite_buffer_limit_per_hour": per_hour, "limiting": "line"}
    stages: dict[tuple[str, ...], list[str]] = {}
    rework = {a.config.sim.rework_to for a in stations}
    for a in stations:
        if g.pred[a.id] and set(g.pred[a.id]) <= rework:
            continue  # a rework loop's station sees only the parts sent back
        stages.setdefault(g.pred[a.id] or (a.id,), []).append(a.id)
    capacity = {key: sum(machines[s].capacity for s in ids) for key, ids in stages.items()}
    worst = min(capacity, key=lambda k: capacity[k])
    per_hour = capacity[worst] * 3600 * share
    return {"throughput_per_hour": per_hour, "infinite_buffer_limit_per_hour": per_hour,
            "limiting": "+".join(stages[worst])}


def estimate(line: Line) -> LineEstimate:
    """Good parts per hour by the pairwise decomposition, and the infinite-buffer limit, for a configured line."""
    if line.config.links or line.config.simulation.transfer == "synchronous":
        return _network_bound(line)
    flow = [line.asset(a) for a in line.config.flow]
    machines, buffers, names = [], [], []
    for i, asset in enumerate(flow):
        if asset.role is AssetRole.BUFFER:
            continue
        machines.append(_machine(asset, line))
        names.append(asset.id)
        nxt = flow[i + 1] if i + 1 < len(flow) else None
        if nxt is not None:
            belt = _belt(asset) if asset.spec.is_a(AssetType.CONVEYOR) and asset.config.sim.transport_time_s else 0
            held = (nxt.config.limit or 0) if nxt.role is AssetRole.BUFFER else 0
            buffers.append(held + belt)
    result = serial_line_rate(machines, buffers)
    share = open_share(line.config.simulation.calendar)
    k = int(result["limiting"])
    return {
        "throughput_per_hour": result["estimate"] * 3600 * share,
        "infinite_buffer_limit_per_hour": result["infinite_buffer_limit"] * 3600 * share,
        "limiting": f"{names[k]}>{names[k + 1]}" if len(names) > 1 else names[0],
    }
