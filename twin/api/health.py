"""Health of the twin's feed and what it rejected."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    feed = request.app.state.feed
    return {"status": "ok" if feed.connected else "degraded", "broker": feed.broker.url,
            "broker_connected": feed.connected, "messages": feed.messages,
            "rejected": sum(feed.rejected_counts.values())}


@router.get("/rejected")
async def rejected(request: Request, limit: int = 100) -> dict[str, Any]:
    """Counts by reason, and the newest rejected messages with why."""
    feed = request.app.state.feed
    return {"counts": dict(feed.rejected_counts),
            "recent": [asdict(r) for r in list(feed.rejected)[-limit:][::-1]]}
