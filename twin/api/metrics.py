"""The twin's own health in the Prometheus text format (see twin/metrics.py for the series)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from twin.auth import Principal, check_plant_wide, require

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request, caller: Annotated[Principal, Depends(require("viewer"))]) -> PlainTextResponse:
    """The whole plant's counters: for a caller who sees the whole plant (403 for a scoped one).
    Async: read on the event loop, the single writer of the counters."""
    check_plant_wide(caller, "/metrics")
    text = request.app.state.metrics.exposition(request.app)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
