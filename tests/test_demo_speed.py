"""The demo at speed 10 computes what it computes at speed 1: one time base, the plant clock (docs/time.md).

The demo runs its line ten times faster than life for 1,080 simulated seconds (108 s of wall time): with the
demo plant's seed, cnc-2 breaks down for about 4 minutes in that interval. The reference is
the same pipeline (simulator, what goes on the wire, the agent's events, the namespace's encoding, the twin)
driven by the simulator's own clock, which is what a run at speed 1 computes (plant time is then wall time),
without waiting ten minutes for it. Bounded by the simulated interval, not timed: what is compared is what
the twin computed, never how fast.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from support import free_port

from benchmarks.sim_twin import SimulatedTwin
from factory_twin.demo import DemoOptions, running_line
from factory_twin.runtime import config_path
from plantmodel.clock import wall_us
from plantmodel.telemetry import from_micros
from plantmodel.uns import format_ts
from simulators.serve import SimulatorOptions
from twin.app_state import services_of
from twin.config import load_twin
from twin.performance import LinePerformance

SPEED = 10.0
PLANT_S = 1080.0


def figures(perf: LinePerformance, end_us: int) -> dict[str, Any]:
    """What the twin says about the interval: each station's OEE to its end, the stops, the alerts raised."""
    oee = {}
    for path in perf.oee.assets:
        w = perf.oee.at(path, "shift", end_us)
        oee[path] = None if w is None else (w.key, w.time.seconds(), w.kpis.as_dict(), w.counts)
    stops = sorted((s.asset, s.start, s.end, s.kind, s.code) for s in perf.stops.select() if s.start < end_us)
    alerts = sorted((a.rule, a.asset, a.severity.name, format_ts(a.raised_at),
                     None if a.cleared_at is None else format_ts(a.cleared_at))
                    for a in perf.alerts.store.select(limit=10_000) if a.raised_at <= from_micros(end_us))
    return {"oee": oee, "stops": stops, "alerts": alerts}


async def run_live(tmp_path: Path, origin_us: int) -> tuple[dict[str, Any], set[tuple[Any, ...]]]:
    record = tmp_path / "record.jsonl"
    opts = DemoOptions(port=free_port(), data_dir=tmp_path / "data", speed=SPEED)
    plant_opts = SimulatorOptions(speed=SPEED, origin_us=origin_us, until_s=PLANT_S, record=record,
                                  start_on_subscribe_s=30)
    end_us = origin_us + round(PLANT_S * 1e6)
    async with running_line(opts, plant_opts) as line:
        twin, perf = services_of(line.app).twin, services_of(line.app).performance
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PLANT_S / SPEED + 120
        periodic = [t for t in twin.assets.values() if t.asset.id.startswith(("cnc-", "robot-", "cv-", "agv-"))]

        def caught_up() -> bool:  # every periodic signal of the run's last second has reached the twin
            return record.exists() and all(
                max(s.ts for s in t.signals.values()) >= from_micros(end_us - 1_000_000) for t in periodic)

        while not caught_up():
            assert loop.time() < deadline, "the twin did not take in the whole run"
            await asyncio.sleep(0.2)
        result = figures(perf, end_us)
    on_wire = {(r["asset"], r["signal"], r["ts"], orjson.dumps(r["value"]))
               for r in map(orjson.loads, record.read_bytes().splitlines())}
    return result, on_wire


def test_the_demo_at_speed_10_computes_what_speed_1_computes(tmp_path: Path) -> None:
    origin_us = wall_us() // 1_000_000 * 1_000_000
    live, live_wire = asyncio.run(run_live(tmp_path, origin_us))

    cfg, plant, calendar = load_twin(config_path("twin-demo.yaml"), {"FT_DATA_DIR": str(tmp_path / "ref")})
    reference = SimulatedTwin(plant, cfg, calendar, origin_us=origin_us)
    ref_wire: set[tuple[Any, ...]] = set()  # the snapshot went out before the listener: compared after it
    reference.listeners.append(lambda s: ref_wire.add((s.asset, s.signal, format_ts(s.ts), orjson.dumps(s.value))))
    reference.run_until(PLANT_S)
    ref = figures(reference.performance, origin_us + round(PLANT_S * 1e6))

    # the simulated line does not depend on its speed: every value of the interval went on the wire alike (the
    # live line may run on a little past its end while the twin catches up)
    start, end = format_ts(from_micros(origin_us)), format_ts(from_micros(origin_us + round(PLANT_S * 1e6)))
    assert {w for w in live_wire if start < w[2] < end} == {w for w in ref_wire if start < w[2] < end}
    # the breakdown is a failure (not a minor stop) at both speeds
    kinds = {(s[0].rsplit("/", 1)[-1], s[3]) for s in live["stops"]}
    assert ("cnc-2", "failure") in kinds, kinds
    assert live["stops"] == ref["stops"]
    # OEE to the end of the interval: the same time model, counts and KPIs; the ideal cycle times are never
    # accused, whatever the wall clock's time of day puts a shift change in the interval (docs/oee.md)
    assert live["oee"] == ref["oee"]
    for key, _seconds, kpis, _ in filter(None, live["oee"].values()):
        assert "effectiveness_above_1" not in kpis["flags"], (key, kpis)
        assert kpis["oee"] is None or 0 <= kpis["oee"] <= 1 or "first_part_began_before_window" in kpis["flags"]
    # alerts raised (and cleared) at the same plant instants: the machine alarm of the breakdown among them
    assert [a[:2] for a in live["alerts"]].count(("machine-alarm", next(
        p for p in live["oee"] if p.endswith("cnc-2")))) == 1
    assert live["alerts"] == ref["alerts"]
