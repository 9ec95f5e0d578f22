"""`factory-twin bench decide`: the simulated plant with and without the decision loop, same seeds, same faults.

Each seed runs the line for `days` twice from the same random streams (so the same first lives of every
wear part, the same failures until an action changes the course). Without the loop nothing is done
before a part fails. With it, every simulated hour the twin's view is checked: when a wear part's wear
shows (the simulator's wear signals follow its used life; the alarm level `alarm_health` stands in for
the RUL alert rising), or a station failed `frequent_failures` times in the last 8 h, the options are
evaluated from that state (`planning.decide`, started from the line as it is: buffers, the part's
operating age, the time of day, and an RUL estimate with relative error `rul_cv` around the true
remaining life: a calibrated estimator's error, drawn at random) and the best is proposed; a simulated
engineer approves every proposal, which is then applied to the running line. (The frequent-failures
trigger is off by default here: memoryless failures gain nothing from maintenance, and each evaluation
costs seconds.) Re-checked every 8 h while
the answer is to run on. The difference in good parts and unplanned downtime (time down for failures,
all stations) is paired by seed, with 95 % intervals; each decision's time is measured on one core.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

import numpy as np

from planning.decide import DecisionSettings, apply, evaluate, options, wear_modes
from plantmodel.plant import Line
from plantmodel.scenario import LineStart, StationStart
from plantmodel.shifts import REFERENCE_MONDAY
from simulators.flow.estimate import mean_ci
from simulators.flow.line import FlowLine
from simulators.flow.replications import replication_seed
from simulators.flow.station import DOWN, Station
from twin.app_state import services_of

RECHECK_S = 8 * 3600.0


def _wear_clock(station: Station) -> Any:
    return next((c for c in station.clocks[0] if c.wear), None)


def _lives(station: Station) -> int:
    return sum(station.failed_by.get(r, 0) for r in wear_modes(station)) + station.planned_maintenance


def plant_run(line: Line, seed: int, days: float, settings: DecisionSettings | None, alarm_health: float = 0.8,
              rul_cv: float = 0.3, frequent_failures: int | None = None) -> dict[str, Any]:
    """One seed's run; `settings` None: without the decision loop."""
    sim = FlowLine(line, replication_seed(seed, 0))
    end = days * 86400.0
    errors = np.random.default_rng([seed, 7919])  # the RUL estimate's error: its own stream
    decided: dict[str, tuple[int, float, str]] = {}  # station -> (life, when, answer)
    decisions: list[dict[str, Any]] = []
    failures_seen: dict[str, list[tuple[float, int]]] = {st.id: [] for st in sim.stations}
    t = 0.0
    while t < end:
        t = min(t + 3600.0, end)
        sim.env.run(until=t)
        if settings is None:
            continue
        for st in sim.stations:
            failures_seen[st.id].append((t, st.failures))
        for st in sim.stations:
            clock = _wear_clock(st)
            life = _lives(st)
            if st.speed != 1.0 and decided.get(st.id, (life,))[0] != life:  # the slowed part was renewed
                st.speed, st.wear_scale = 1.0, 1.0
            last = decided.get(st.id)
            if last is not None and last[0] == life and (last[2] != "run_on" or t - last[1] < RECHECK_S):
                continue
            window = [n for when, n in failures_seen[st.id] if when >= t - 8 * 3600.0]
            often = frequent_failures is not None and len(window) > 1 and window[-1] - window[0] >= frequent_failures
            wearing = clock is not None and 1.0 - clock.left / clock.drawn >= alarm_health
            if not (wearing or often) or st.state[0] is DOWN:
                continue
            start = _view(sim, st, t, errors, rul_cv)
            t0 = time.perf_counter()
            res = evaluate(line, start, st.id, settings, seed=seed * 1000 + len(decisions))
            seconds = time.perf_counter() - t0
            best = res["best"]
            decided[st.id] = (life, t, best)
            decisions.append({"t_h": t / 3600, "asset": st.id, "trigger": "rul" if wearing else "failures",
                              "best": best, "resolved": res["resolved"], "replications": res["replications"],
                              "options": len(res["options"]), "seconds": seconds,
                              "lead": res["options"][0]["vs_runner_up"]})
            if best != "run_on":
                option = next(o for o in options(line, start.origin, settings) if o.name == best)
                apply(sim, st, option, settings)
    summary = sim.summary()
    down = sum(s["time_s"].get("down", 0.0) for s in summary["stations"].values())
    return {"good": summary["good"], "unplanned_downtime_s": down, "decisions": decisions}


def _view(sim: FlowLine, st: Station, t: float, errors: np.random.Generator, rul_cv: float) -> LineStart:
    """What the twin knows when it decides: buffer levels, repairs under way, the part's age and an RUL estimate."""
    buffers = {name: len(b.items) for name, b in sim.buffers.items() if ">" not in name and b.items}
    stations: dict[str, StationStart] = {}
    for other in sim.stations:
        if other.state[0] is DOWN:
            stations[other.id] = StationStart(down_for_s=max(0.0, t - other.since[0]))
    clock = _wear_clock(st)
    if clock is not None:
        sigma = float(np.sqrt(np.log1p(rul_cv**2)))
        estimate = clock.left * float(errors.lognormal(-sigma * sigma / 2, sigma))
        stations[st.id] = StationStart(wear_age_s=max(0.0, clock.drawn - clock.left),
                                       wear_remaining_s=max(estimate, 1.0), wear_remaining_cv=rul_cv)
    return LineStart(buffers=buffers, stations=stations, origin=REFERENCE_MONDAY + timedelta(seconds=t))


def bench_decide(line: Line, days: float, seeds: int, settings: DecisionSettings) -> dict[str, Any]:
    rows = []
    for seed in range(seeds):
        without = plant_run(line, seed, days, None)
        with_loop = plant_run(line, seed, days, settings)
        rows.append({"seed": seed, "good_without": without["good"], "good_with": with_loop["good"],
                     "downtime_without_s": without["unplanned_downtime_s"],
                     "downtime_with_s": with_loop["unplanned_downtime_s"], "decisions": with_loop["decisions"]})
    decisions = [d for r in rows for d in r["decisions"]]
    times = [d["seconds"] for d in decisions]
    return {
        "days": days, "seeds": seeds, "line": line.path,
        "good_parts_gain": mean_ci([r["good_with"] - r["good_without"] for r in rows]),
        "unplanned_downtime_change_s": mean_ci([r["downtime_with_s"] - r["downtime_without_s"] for r in rows]),
        "good_parts_without": mean_ci([r["good_without"] for r in rows]),
        "decisions": len(decisions),
        "approved": sum(1 for d in decisions if d["best"] != "run_on"),
        "answers": {k: sum(1 for d in decisions if d["best"] == k) for k in sorted({d["best"] for d in decisions})},
        "resolved": sum(1 for d in decisions if d["resolved"]),
        "decision_time_s": {"mean": statistics.fmean(times), "max": max(times)} if times else None,
        "replications_per_option": statistics.fmean(d["replications"] for d in decisions) if decisions else None,
        "settings": settings.model_dump(), "per_seed": rows,
    }


async def live_check(tmp: Any, settings: DecisionSettings, speed: float = 10.0) -> dict[str, Any]:
    """One decision through the twin (a worker process) while the twin ingests the demo line's samples and is
    polled for a station's live state every 50 ms: the decision's time, and the live reads' latency before,
    during and right after it (the machine's other load is the same before and after, not the decision)."""
    import asyncio
    import os
    from pathlib import Path

    import httpx

    from factory_twin.runtime import config_path, free_port
    from planning.planner import plan_job
    from plantmodel.clock import PlantClock, wall_us
    from plantmodel.config import load_config
    from plantmodel.plant import PlantConfig
    from simulators.live_line import LineModel
    from simulators.realtime import run_paced
    from twin.config import TwinConfig
    from twin.main import create_app
    from twin.server import serve_http

    key = "bench-decide-engineer-key-01"
    plant = load_config(config_path("demo-plant.yaml"), PlantConfig)
    line = plant.lines()[0]
    cnc2 = line.asset("cnc-2").path
    cfg = TwinConfig.model_validate({
        "plant": "demo-plant.yaml", "broker": {"port": free_port()}, "database": str(Path(tmp) / "twin.db"),
        "auth": {"api_keys": [{"name": "engineer", "role": "engineer", "key_env": "FT_BENCH_DECIDE"}]},
        "rate_limits": {"expensive": "100000/minute"}, "jobs": {"workers": 1},
        "control": {"endpoint": "opc.tcp://127.0.0.1:9/none/", "commands": [
            {"name": "stop_for_maintenance", "assets": ["*/cnc-*"], "kind": "method",
             "browse_name": "StopForMaintenance", "value": "double", "min": 60, "max": 28800},
            {"name": "reduce_speed", "assets": ["*/cnc-*"], "kind": "write", "browse_name": "speed_override",
             "value": "double", "min": 50, "max": 100}]},
        "decisions": {"settings": settings.model_dump(), "frequent_failures": None, "check_s": 0.5}})
    clock = PlantClock(speed, wall_us())  # one plant clock for the simulated line and the twin
    app = create_app(cfg, plant, env={**os.environ, "FT_BENCH_DECIDE": key}, planner=plan_job, clock=clock)
    # the RUL alert on cnc-2's bearing: about 20 h left, give or take 6
    decisions = services_of(app).decisions
    if decisions is None:
        raise RuntimeError("the twin started without its decision engine (the config's `decisions` section)")
    decisions.alerts_seen[cnc2] = {"kind": "rul", "asset": cnc2, "condition": True,
                                   "detail": {"rul_s": 72_000, "low_s": 50_000, "high_s": 94_000}}
    model = LineModel(line)
    stop, ready = asyncio.Event(), asyncio.Event()
    port = free_port()
    applied = [0]

    async def publish(samples: list[Any]) -> None:
        for s in samples:
            try:
                services_of(app).twin.apply(s)
                applied[0] += 1
            except Exception:  # a sample the twin refuses counts for nothing here
                pass

    tasks = [asyncio.create_task(serve_http(app, "127.0.0.1", port, stop, ready)),
             asyncio.create_task(run_paced([model], publish, stop, clock))]
    await ready.wait()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     headers={"Authorization": f"Bearer {key}"}) as c:
            async def poll(seconds: float | None, until: Any = None) -> list[float]:
                out: list[float] = []
                t_end = time.perf_counter() + (seconds or 1e9)
                while time.perf_counter() < t_end and (until is None or not await until()):
                    t = time.perf_counter()
                    (await c.get(f"/api/assets/{cnc2}")).raise_for_status()
                    out.append((time.perf_counter() - t) * 1000)
                    await asyncio.sleep(0.05)
                return out

            await asyncio.sleep(2.0)
            before = await poll(10.0)
            asked = (await c.post("/api/decisions", json={"asset": cnc2})).json()
            t0 = time.perf_counter()
            state: dict[str, Any] = {}

            async def evaluated() -> bool:
                state.update((await c.get(f"/api/decisions/{asked['id']}")).json())
                return state["state"] != "evaluating"

            during = await poll(None, evaluated)
            wall = time.perf_counter() - t0
            after = await poll(min(wall, 30.0))  # the same reads with no decision running, right after it
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    result = state.get("result") or {}

    def pct(values: list[float]) -> dict[str, float]:
        a = np.asarray(values)
        return {"p50": round(float(np.percentile(a, 50)), 2), "p99": round(float(np.percentile(a, 99)), 2),
                "max": round(float(a.max()), 2), "n": len(values)}

    return {"decision_wall_s": round(wall, 2), "decision_compute_s": round(result.get("seconds", float("nan")), 2),
            "options": len(result.get("options", [])), "replications_per_option": result.get("replications"),
            "resolved": result.get("resolved"), "best": result.get("best"), "state": state.get("state"),
            "lead_over_runner_up": (result.get("options") or [{}])[0].get("vs_runner_up"),
            "live_state_ms_before": pct(before), "live_state_ms_during": pct(during), "live_state_ms_after": pct(after),
            "samples_applied": applied[0], "feed_speed": speed}
