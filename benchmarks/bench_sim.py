"""`factory-twin bench sim`: speed of the planning model against a bare SimPy chain, measured in the same run.

The bare chain has the demo line's stations and buffers and nothing else (lognormal cycles, no failures,
no accounting), so the ratio prices everything the planning model adds. Event counts are read from
SimPy's event-id counter (an internal, read only here).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from plantmodel.catalog import AssetRole
from plantmodel.plant import Asset, Line
from simulators.flow.line import FlowLine
from simulators.flow.replications import replicate

DAY_S = 86_400.0


def _events(env: simpy.Environment) -> int:
    return next(env._eid)  # ids handed out so far = events scheduled


def _capacity(nxt: Asset) -> float:
    """Places in what follows a station: a buffer's capacity (which the plant's validation requires), else 1."""
    if nxt.role is not AssetRole.BUFFER:
        return 1
    if nxt.config.capacity is None:
        raise ValueError(f"{nxt.path}: a buffer without capacity")
    return nxt.config.capacity


def bare_chain(line: Line, seed: int) -> simpy.Environment:
    """The same stations and buffers as plain SimPy stores and processes; an unlimited supply and sink."""
    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    flow = [line.asset(a) for a in line.config.flow]
    inbound: simpy.Store | None = None
    for i, asset in enumerate(flow):
        if asset.role is AssetRole.BUFFER:
            continue
        nxt = flow[i + 1] if i + 1 < len(flow) else None
        outbound = None if nxt is None else simpy.Store(env, _capacity(nxt))
        mean = asset.config.sim.cycle_time_s or asset.config.ideal_cycle_time_s or 1.0
        if asset.role is AssetRole.TRANSPORT:  # a round trip per load, spread over the load's parts
            mean = 2 * mean / (asset.config.capacity or 1)
        sigma = float(np.sqrt(np.log1p(0.05**2)))
        env.process(_machine(env, inbound, outbound, np.log(mean) - sigma**2 / 2, sigma, rng))
        inbound = outbound
    return env


def _machine(env: simpy.Environment, inbound: simpy.Store | None, outbound: simpy.Store | None, mu: float,
             sigma: float, rng: np.random.Generator) -> Generator[simpy.Event, Any, None]:
    while True:
        if inbound is not None:
            yield inbound.get()
        yield env.timeout(rng.lognormal(mu, sigma))
        if outbound is not None:
            yield outbound.put(1)


def _timed(build: Callable[[], simpy.Environment], until_s: float) -> tuple[float, int]:
    env = build()
    t0 = time.perf_counter()
    env.run(until=until_s)
    return time.perf_counter() - t0, _events(env)


def bench_sim(line: Line, days: float = 30.0, replications: int = 100, shift_h: float = 8.0) -> dict[str, Any]:
    load_before = os.getloadavg()
    full_wall, full_events = _timed(lambda: FlowLine(line, 1).env, days * DAY_S)
    bare_wall, bare_events = _timed(lambda: bare_chain(line, 1), days * DAY_S)
    scaling: dict[str, float] = {}
    for workers in sorted({1, 2, os.cpu_count() or 1}):
        t0 = time.perf_counter()
        replicate(line, shift_h, replications, 1, workers=workers)
        scaling[str(workers)] = round(time.perf_counter() - t0, 3)
    full_speed, bare_speed = days / full_wall, days / bare_wall
    return {
        "line": line.path,
        "simulated_days": days,
        "full_model_wall_s": round(full_wall, 3),
        "sim_days_per_wall_s": round(full_speed, 2),
        "events_per_s": round(full_events / full_wall),
        "events": full_events,
        "bare_chain_wall_s": round(bare_wall, 3),
        "bare_chain_sim_days_per_wall_s": round(bare_speed, 2),
        "bare_chain_events_per_s": round(bare_events / bare_wall),
        "speed_ratio_vs_bare_chain": round(full_speed / bare_speed, 3),
        f"replications_{replications}x{shift_h:g}h_wall_s_by_workers": scaling,
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
