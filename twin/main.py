"""The twin service: a FastAPI app whose lifespan connects it to the unified namespace."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse

from historian.sqlite import SqliteHistorian
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from twin.api import assets, commands, health, jobs, me
from twin.api import performance as api_performance
from twin.auth import Authenticator, require
from twin.commands import CommandBook
from twin.config import TwinConfig
from twin.db import TwinDatabase
from twin.equipment import Equipment
from twin.jobs import JobRunner, JobStore
from twin.performance import LinePerformance
from twin.planning import Planner
from twin.state import PlantTwin
from twin.stream import UnsFeed


def create_app(config: TwinConfig, plant: PlantConfig, calendar: ShiftCalendarConfig | None = None,
               env: Mapping[str, str] | None = None, *, planner: Planner | None = None) -> FastAPI:
    """The service; `env` holds the secrets the auth config names (default: the process environment).

    `planner` runs what-if planning jobs (`factory_twin.planning.plan_job`); without one, jobs are refused (503).

    Raises `twin.auth.AuthError` when a secret is missing, before anything is opened.
    """
    auth = Authenticator(config.auth, os.environ if env is None else env)
    db = TwinDatabase(config.database)
    performance = LinePerformance(config, plant, calendar, _site_zone(plant))
    twin = PlantTwin(plant, listeners=[performance.observe])
    feed = UnsFeed(twin, config.broker, [f"{plant.enterprise}/#"], config.client_id)
    job_store = JobStore(db, config.jobs.keep)
    job_runner = JobRunner(job_store, planner, config.jobs.workers)
    book = CommandBook(db)
    equipment = Equipment(config.control, os.environ if env is None else env) if config.control else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.history is not None and config.history.exists():
            history = SqliteHistorian(config.history, readonly=True)
            try:
                performance.rebuild(history, datetime.now(UTC))
            finally:
                history.close()
        feed.start(asyncio.get_running_loop())
        job_runner.start()
        book.interrupted(time.time())
        expiry = asyncio.create_task(_expire(book), name="command-expiry")
        try:
            yield
        finally:
            expiry.cancel()
            await job_runner.stop()
            feed.stop()
            db.close()

    app = FastAPI(title="factory-twin", summary="Live digital twin of a production line", lifespan=lifespan)
    app.state.twin, app.state.feed, app.state.performance = twin, feed, performance
    app.state.config, app.state.auth, app.state.db = config, auth, db
    app.state.plant, app.state.job_store, app.state.job_runner = plant, job_store, job_runner
    app.state.commands, app.state.equipment = book, equipment
    if config.auth.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.auth.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])
    viewer = [Depends(require("viewer"))]  # every route needs a caller; writes ask for more in their handlers
    for router in (assets.router, api_performance.router, health.router, me.router, jobs.router,
                   commands.router):
        app.include_router(router, dependencies=viewer)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app


async def _expire(book: CommandBook, every_s: float = 1.0) -> None:
    """Unapproved requests expire on time even when nobody asks for the list (which also expires them)."""
    while True:
        await asyncio.sleep(every_s)
        book.expire_due(time.time())


def _site_zone(plant: PlantConfig) -> tzinfo:
    """Days are the first site's local days when no shift calendar says otherwise."""
    return ZoneInfo(plant.sites[0].timezone)
