"""What-if planning from the twin: the job's settings, the planner it calls, and the live state it may start from.

The twin does not simulate: a `Planner` (given to `create_app`; `factory-twin` gives the line simulator's)
runs in a worker process. It receives a plain request — the plant model, the study and optionally the
`LineStart` taken from the twin when the job was submitted — and reports progress as it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from plantmodel.catalog import AssetRole
from plantmodel.plant import Line
from plantmodel.scenario import LineStart, StationStart
from plantmodel.telemetry import AssetState, from_micros, to_micros
from twin.downtime import StopLog
from twin.state import PlantTwin

Progress = Callable[[int, int], None]


class Planner(Protocol):
    """Runs one study in a worker process; must be a module-level function (it is pickled by name)."""

    def __call__(self, request: dict[str, Any], progress: Progress) -> dict[str, Any]: ...


class JobsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    workers: int = Field(1, ge=1, le=64, description="jobs run at once, each in its own process")
    keep: int = Field(200, ge=1, description="finished jobs kept (with results); older ones are deleted")
    max_pending_per_caller: int = Field(3, ge=1, description="queued or running jobs one caller may have; "
                                        "more are refused with 429 and Retry-After")
    max_pending: int = Field(50, ge=1, description="queued or running jobs in all")
    max_replication_hours: float = Field(200_000.0, gt=0, description="largest study accepted: simulated hours "
                                         "x replications x (1 + variants)")
    retry_after_s: int = Field(30, ge=1, description="Retry-After of a refused submission")
    max_wall_s: float = Field(1800.0, gt=0, description="a job running longer is stopped and failed")
    max_cpu_s: float = Field(1800.0, gt=0, description="CPU seconds a job's process may use (a hard limit set "
                             "in the process); beyond, it is stopped and failed")
    max_events_per_run: int = Field(20_000_000, ge=1000, description="simulation events one replication may "
                                    "process; a model whose failures or arrivals come absurdly often fails fast")
    max_runs: int = Field(2, ge=1, description="times a job is started: one interrupted by restarts more often "
                          "is failed, not queued again")

    nice: int = Field(10, ge=0, le=19, description="scheduling niceness of a job's process: on a busy machine "
                      "the twin's live path (ingest, live reads) keeps the processor first")

    def limits(self) -> dict[str, Any]:
        """What the job's process enforces on itself."""
        return {"max_cpu_s": self.max_cpu_s, "max_events_per_run": self.max_events_per_run, "nice": self.nice}


def study_size(scenario: dict[str, Any]) -> float:
    """Simulated hours a study asks for (warm-up included), to refuse the unreasonable before queueing."""
    variants = len(scenario.get("variants", [])) + sum(len(s["values"]) for s in scenario.get("sweeps", []))
    hours = scenario["hours"] + (scenario.get("warmup_h") or 0)
    return hours * scenario["replications"] * (1 + variants)


def live_start(twin: PlantTwin, stops: StopLog, line: Line, now: datetime | None = None) -> LineStart:
    """The line as the twin sees it now: WIP in each buffer, stations down (and for how long), the time since
    each station's last failure ended (the twin's wall-clock view of the failure clocks' age), and the moment
    itself, where the run starts on the line's shift calendar."""
    now_us = to_micros(now or datetime.now(UTC))
    last_failure_end: dict[str, int] = {}
    for stop in stops.stops:
        if stop.kind in ("failure", "minor_stop") and stop.end is not None:
            last_failure_end[stop.asset] = max(stop.end, last_failure_end.get(stop.asset, 0))
    buffers: dict[str, int] = {}
    stations: dict[str, StationStart] = {}
    for asset in line.assets():
        at = twin.assets.get(asset.path)
        if at is None:
            continue
        if asset.role is AssetRole.BUFFER:
            level = at.signals.get(asset.spec.level) if asset.spec.level else None
            if level is not None and isinstance(level.value, int | float) and level.value > 0:
                buffers[asset.id] = int(level.value)
            continue
        down_for = None
        if at.state == AssetState.DOWN and at.state_since is not None:
            down_for = max(0.0, (now_us - to_micros(at.state_since)) / 1e6)
        ended = last_failure_end.get(asset.path)
        since = max(0.0, (now_us - ended) / 1e6) if ended is not None and down_for is None else None
        if down_for is not None or since is not None:
            stations[asset.id] = StationStart(down_for_s=down_for, since_failure_s=since)
    return LineStart(buffers=buffers, stations=stations, origin=from_micros(now_us))
