"""Benchmarks: each starts what it needs on loopback, prints a table and can write JSON."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from factory_twin.demo import DemoOptions, running_line
from factory_twin.runtime import free_port
from historian import SqliteHistorian
from plantmodel.telemetry import AssetState
from simulators.serve import SimulatorOptions


async def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until `condition` held (checked every 10 ms); raises after `timeout_s`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        if loop.time() - start > timeout_s:
            raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
        await asyncio.sleep(0.01)
    return loop.time() - start


async def pipeline(seconds: float, speed: float, workdir: Path) -> dict[str, Any]:
    """The demo's whole path in one process: plant -> agent -> historian and UNS -> twin.

    The plant runs for `seconds` at `speed`; every value it put on the wire is counted in the historian.
    """
    record = workdir / "produced.jsonl"
    cpu0, wall0 = time.process_time(), time.monotonic()
    opts = DemoOptions(port=free_port(), data_dir=workdir, speed=speed)
    plant_opts = SimulatorOptions(speed=speed, duration_s=seconds, record=record, start_on_subscribe_s=30)
    async with running_line(opts, plant_opts) as line:
        started_s = time.monotonic() - wall0
        twin = line.app.state.twin
        live_s = started_s + await _until(
            lambda: all(t.state != AssetState.UNKNOWN for t in twin.assets.values()), 30, "live state")
        await _until(record.exists, seconds + 60, "the bounded run to finish")
        produced = sum(1 for _ in record.open("rb"))
        history = SqliteHistorian(line.history, readonly=True)
        try:
            def plant_samples() -> int:  # not the agent's own telemetry
                return len(history.samples(asset=f"{line.plant.enterprise}/*"))

            await _until(lambda: plant_samples() >= produced, 120, "every sample to be stored")
            stored = plant_samples()
        finally:
            history.close()
        flowing_s = time.monotonic() - wall0 - started_s
        received = line.agent.stats["samples_in"]
        backlog = dict(line.agent.backlog)
    return {
        "seconds": seconds, "speed": speed,
        "time_to_start_s": round(started_s, 3),
        "time_to_live_state_s": round(live_s, 3),
        "produced": produced, "stored": stored, "loss": produced - stored,
        "agent_received": received,
        "sink_backlog_records": backlog,  # records (samples and events) not yet written, per sink
        "samples_per_s": round(stored / flowing_s, 1),
        "process_cpu_s": round(time.process_time() - cpu0, 2),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cores": os.cpu_count(),
    }
