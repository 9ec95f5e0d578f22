"""The twin service: a FastAPI app whose lifespan connects it to the unified namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from historian.sqlite import SqliteHistorian
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from twin.api import assets, health
from twin.api import performance as api_performance
from twin.config import TwinConfig
from twin.performance import LinePerformance
from twin.state import PlantTwin
from twin.stream import UnsFeed


def create_app(config: TwinConfig, plant: PlantConfig, calendar: ShiftCalendarConfig | None = None) -> FastAPI:
    performance = LinePerformance(config, plant, calendar, _site_zone(plant))
    twin = PlantTwin(plant, listeners=[performance.observe])
    feed = UnsFeed(twin, config.broker, [f"{plant.enterprise}/#"], config.client_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.history is not None and config.history.exists():
            history = SqliteHistorian(config.history, readonly=True)
            try:
                performance.rebuild(history, datetime.now(UTC))
            finally:
                history.close()
        feed.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            feed.stop()

    app = FastAPI(title="factory-twin", summary="Live digital twin of a production line", lifespan=lifespan)
    app.state.twin, app.state.feed, app.state.performance = twin, feed, performance
    app.state.config = config
    app.include_router(assets.router)
    app.include_router(api_performance.router)
    app.include_router(health.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app


def _site_zone(plant: PlantConfig) -> tzinfo:
    """Days are the first site's local days when no shift calendar says otherwise."""
    return ZoneInfo(plant.sites[0].timezone)
