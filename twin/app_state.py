"""Everything the twin service's routes work with, typed and built once by `twin.main.create_app`.

Routes get these through the dependencies of `twin.api.deps` rather than an untyped attribute bag: what a route
needs is in its signature, and the type checker follows it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the service modules import this one (twin.auth, twin.limits)
    from plantmodel.plant import PlantConfig
    from twin.alerting import AlertEngine, Clock
    from twin.auth import Authenticator
    from twin.backfill import Backfill
    from twin.commands import CommandBook
    from twin.config import TwinConfig
    from twin.db import TwinDatabase
    from twin.decisions import DecisionEngine
    from twin.equipment import Equipment
    from twin.history import HistoryReader
    from twin.history_work import HeavyReads
    from twin.jobs import JobRunner, JobStore
    from twin.limits import CallerLimits
    from twin.loopwatch import LoopWatch
    from twin.metrics import TwinMetrics
    from twin.performance import LinePerformance
    from twin.persist import StateStore
    from twin.state import PlantTwin
    from twin.stream import UnsFeed
    from twin.stream_ws import LiveStream


@dataclass(frozen=True, eq=False)
class TwinServices:
    """The twin's parts, one of each per service."""

    config: TwinConfig
    plant: PlantConfig
    clock: Clock  # plant time: what "now" means for every age, window and alert
    auth: Authenticator
    db: TwinDatabase
    twin: PlantTwin
    feed: UnsFeed
    performance: LinePerformance
    live: LiveStream
    store: StateStore
    history: HistoryReader
    backfill: Backfill
    loop_watch: LoopWatch
    heavy_reads: asyncio.Semaphore  # thread reads of the historian (timelines, replay) at once
    heavy: HeavyReads  # process reads of the historian (series, exports)
    limits: CallerLimits
    job_store: JobStore
    job_runner: JobRunner
    commands: CommandBook
    equipment: Equipment | None  # none without a control: section
    decisions: DecisionEngine | None  # none without a decisions: section
    metrics: TwinMetrics

    @property
    def alerts(self) -> AlertEngine:
        return self.performance.alerts


def services_of(app: Any) -> TwinServices:
    """The services of a twin app (`app.state.services`, set once by `create_app`)."""
    services: TwinServices = app.state.services
    return services
