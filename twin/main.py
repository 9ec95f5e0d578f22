"""The twin service: a FastAPI app whose lifespan connects it to the unified namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from plantmodel.plant import PlantConfig
from twin.api import assets, health
from twin.config import TwinConfig
from twin.state import PlantTwin
from twin.stream import UnsFeed


def create_app(config: TwinConfig, plant: PlantConfig) -> FastAPI:
    twin = PlantTwin(plant)
    feed = UnsFeed(twin, config.broker, [f"{plant.enterprise}/#"], config.client_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        feed.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            feed.stop()

    app = FastAPI(title="factory-twin", summary="Live digital twin of a production line", lifespan=lifespan)
    app.state.twin, app.state.feed = twin, feed
    app.include_router(assets.router)
    app.include_router(health.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
