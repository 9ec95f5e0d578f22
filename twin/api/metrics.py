"""The twin's own health in the Prometheus text format (see twin/metrics.py for the series)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from twin.api.deps import MetricsDep, ServicesDep
from twin.auth import Principal, check_plant_wide, require

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep, twin_metrics: MetricsDep,
                  caller: Annotated[Principal, Depends(require("viewer"))]) -> PlainTextResponse:
    """The whole plant's counters: for a caller who sees the whole plant (403 for a scoped one).
    Async: read on the event loop, the single writer of the counters."""
    check_plant_wide(caller, "/metrics")
    text = twin_metrics.exposition(services)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
