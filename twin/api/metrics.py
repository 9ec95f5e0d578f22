"""The twin's own health in the Prometheus text format (see twin/metrics.py for the series)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Async: read on the event loop, the single writer of the counters."""
    text = request.app.state.metrics.exposition(request.app)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
