"""`factory-twin bench pipeline`: the demo's whole path, from the simulated line to live state and the store."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from benchmarks.delivery import delivery
from factory_twin.demo import DemoOptions, running_line
from factory_twin.runtime import free_port
from historian import SqliteHistorian
from plantmodel.telemetry import AssetState
from plantmodel.uns import format_ts
from simulators.serve import SimulatorOptions
from twin.app_state import services_of


async def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until `condition` held (checked every 10 ms); raises after `timeout_s`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        if loop.time() - start > timeout_s:
            raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
        await asyncio.sleep(0.01)
    return loop.time() - start


def _key(d: dict[str, Any]) -> tuple[str, str, str, Any]:
    """(asset, signal, ts, value), numbers as floats (the historian keeps numbers as floats)."""
    v = d["value"]
    return d["asset"], d["signal"], d["ts"], float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


async def pipeline(seconds: float, speed: float, workdir: Path) -> dict[str, Any]:
    """The demo's whole path in one process: plant -> agent -> historian and UNS -> twin.

    The plant runs for `seconds` at `speed`; every value it put on the wire (its record) is looked up in the
    historian as (asset, signal, ts, value): missing and extra are counted as sets.
    """
    record = workdir / "produced.jsonl"
    cpu0, wall0 = time.process_time(), time.monotonic()
    opts = DemoOptions(port=free_port(), data_dir=workdir, speed=speed)
    plant_opts = SimulatorOptions(speed=speed, duration_s=seconds, record=record, start_on_subscribe_s=30)
    async with running_line(opts, plant_opts) as line:
        started_s = time.monotonic() - wall0
        twin = services_of(line.app).twin
        live_s = started_s + await _until(
            lambda: all(t.state != AssetState.UNKNOWN for t in twin.assets.values()), 30, "live state")
        await _until(record.exists, seconds + 60, "the bounded run to finish")
        produced = {_key(orjson.loads(r)) for r in record.read_bytes().splitlines()}
        history = SqliteHistorian(line.history, readonly=True)
        try:
            def plant_samples() -> list[tuple[str, str, str, Any]]:  # not the agent's own telemetry
                return [_key({"asset": s.asset, "signal": s.signal, "ts": format_ts(s.ts), "value": s.value})
                        for s in history.samples(asset=f"{line.plant.enterprise}/*")]

            await _until(lambda: len(plant_samples()) >= len(produced), 120, "every sample to be stored")
            counted = delivery(produced, plant_samples())  # one row per key in the file: duplicates invisible
        finally:
            history.close()
        flowing_s = time.monotonic() - wall0 - started_s
        received = line.agent.stats["samples_in"]
        backlog = dict(line.agent.backlog)
    return {
        "seconds": seconds, "speed": speed,
        "time_to_start_s": round(started_s, 3),
        "time_to_live_state_s": round(live_s, 3),
        **counted,
        "agent_received": received,
        "sink_backlog_records": backlog,  # records (samples and events) not yet written, per sink
        "samples_per_s": round((counted["stored"] - counted["extra"]) / flowing_s, 1),
        "process_cpu_s": round(time.process_time() - cpu0, 2),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cores": os.cpu_count(),
    }
