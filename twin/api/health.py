"""Health of the twin's feed and event loop, and what the feed rejected."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from plantmodel.uns import ASSET_DEPTH
from twin.api.deps import BackfillDep, FeedDep, LoopWatchDep
from twin.auth import Principal, require

router = APIRouter(prefix="/api", tags=["health"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
STALL_WARN_S = 0.25  # a loop stalled this long in the last minute is worth a look


@router.get("/health")
async def health(feed: FeedDep, watch: LoopWatchDep, backfill: BackfillDep) -> dict[str, Any]:
    """`ok`, or `degraded` with the problems: no broker, a feed gone silent, a stalled event loop."""
    problems = feed.problems()
    stall_s = watch.recent_max_s()
    if stall_s > STALL_WARN_S:
        problems.append(f"event loop stalled for {stall_s * 1000:.0f} ms in the last minute")
    return {"status": "degraded" if problems else "ok", "problems": problems, "broker": feed.broker.url,
            "broker_connected": feed.connected, "messages": feed.messages,
            "last_live_message_age_s": round(time.monotonic() - feed.last_live, 1),
            "loop_stall_max_ms": round(stall_s * 1000, 1), "rejected": sum(feed.rejected_counts.values()),
            "duplicates_skipped": feed.duplicates, "backfill": backfill.status()}


@router.get("/rejected")
async def rejected(feed: FeedDep, caller: Viewer,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Counts by reason, and the newest rejected messages with why. A scoped caller sees the messages on its
    assets' topics only, and counts of those."""
    recent = list(feed.rejected)[::-1]
    if caller.plant_wide:
        return {"counts": dict(feed.rejected_counts), "recent": [asdict(r) for r in recent[:limit]]}
    mine = [r for r in recent if caller.sees("/".join(r.topic.split("/")[:ASSET_DEPTH]))]
    counts: dict[str, int] = {}
    for r in mine:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    return {"counts": counts, "recent": [asdict(r) for r in mine[:limit]]}
