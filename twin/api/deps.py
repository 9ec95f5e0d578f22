"""Typed FastAPI dependencies for the twin's routes: `caller: Viewer, twin: TwinDep`, never `request.app.state`.

Each alias is `Annotated[<part>, Depends(<getter>)]` over the one `TwinServices` the app was built with; they
work in HTTP and WebSocket routes alike (they depend on the connection, not the request). The getters are
async, so FastAPI calls them on the event loop rather than sending each to a worker thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from plantmodel.plant import PlantConfig
from twin.alerting import AlertEngine, Clock
from twin.app_state import TwinServices, services_of
from twin.backfill import Backfill
from twin.commands import CommandBook
from twin.config import TwinConfig
from twin.decisions import DecisionEngine
from twin.equipment import Equipment
from twin.history import HistoryReader
from twin.jobs import JobRunner, JobStore
from twin.limits import CallerLimits
from twin.loopwatch import LoopWatch
from twin.metrics import TwinMetrics
from twin.performance import LinePerformance
from twin.persist import StateStore
from twin.state import PlantTwin
from twin.stream import UnsFeed
from twin.stream_ws import LiveStream


async def get_services(conn: HTTPConnection) -> TwinServices:
    return services_of(conn.app)


ServicesDep = Annotated[TwinServices, Depends(get_services)]


async def get_config(s: ServicesDep) -> TwinConfig:
    return s.config


async def get_plant(s: ServicesDep) -> PlantConfig:
    return s.plant


async def get_clock(s: ServicesDep) -> Clock:
    return s.clock


async def get_twin(s: ServicesDep) -> PlantTwin:
    return s.twin


async def get_feed(s: ServicesDep) -> UnsFeed:
    return s.feed


async def get_performance(s: ServicesDep) -> LinePerformance:
    return s.performance


async def get_alerts(s: ServicesDep) -> AlertEngine:
    return s.alerts


async def get_live(s: ServicesDep) -> LiveStream:
    return s.live


async def get_store(s: ServicesDep) -> StateStore:
    return s.store


async def get_history(s: ServicesDep) -> HistoryReader:
    return s.history


async def get_backfill(s: ServicesDep) -> Backfill:
    return s.backfill


async def get_loop_watch(s: ServicesDep) -> LoopWatch:
    return s.loop_watch


async def get_limits(s: ServicesDep) -> CallerLimits:
    return s.limits


async def get_job_store(s: ServicesDep) -> JobStore:
    return s.job_store


async def get_job_runner(s: ServicesDep) -> JobRunner:
    return s.job_runner


async def get_commands(s: ServicesDep) -> CommandBook:
    return s.commands


async def get_equipment(s: ServicesDep) -> Equipment | None:
    return s.equipment


async def get_decisions(s: ServicesDep) -> DecisionEngine | None:
    """None where the twin has no decisions: section (the route answers 404 after checking the caller)."""
    return s.decisions


async def get_metrics(s: ServicesDep) -> TwinMetrics:
    return s.metrics


ConfigDep = Annotated[TwinConfig, Depends(get_config)]
PlantDep = Annotated[PlantConfig, Depends(get_plant)]
ClockDep = Annotated[Clock, Depends(get_clock)]
TwinDep = Annotated[PlantTwin, Depends(get_twin)]
FeedDep = Annotated[UnsFeed, Depends(get_feed)]
PerformanceDep = Annotated[LinePerformance, Depends(get_performance)]
AlertsDep = Annotated[AlertEngine, Depends(get_alerts)]
LiveDep = Annotated[LiveStream, Depends(get_live)]
StoreDep = Annotated[StateStore, Depends(get_store)]
HistoryDep = Annotated[HistoryReader, Depends(get_history)]
BackfillDep = Annotated[Backfill, Depends(get_backfill)]
LoopWatchDep = Annotated[LoopWatch, Depends(get_loop_watch)]
LimitsDep = Annotated[CallerLimits, Depends(get_limits)]
JobStoreDep = Annotated[JobStore, Depends(get_job_store)]
JobRunnerDep = Annotated[JobRunner, Depends(get_job_runner)]
CommandsDep = Annotated[CommandBook, Depends(get_commands)]
EquipmentDep = Annotated[Equipment | None, Depends(get_equipment)]
DecisionsDep = Annotated[DecisionEngine | None, Depends(get_decisions)]
MetricsDep = Annotated[TwinMetrics, Depends(get_metrics)]
