"""The plant clock as the twin reads it (docs/time.md): what "now" means for every age, window and alert.

For a real plant it is wall time; a simulator running faster than life is followed at its speed. A client
(the web UI) reads it once in a while and runs it on between reads, so its "now" is the twin's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from plantmodel.clock import wall_us
from plantmodel.telemetry import from_micros
from twin.api.deps import ClockDep

router = APIRouter(prefix="/api", tags=["clock"])


@router.get("/clock")
async def clock(c: ClockDep) -> dict[str, Any]:
    """Plant time now, its speed (plant seconds per wall second) and the wall time it was read at."""
    return {"now": c.now(), "speed": getattr(c, "speed", 1.0), "wall": from_micros(wall_us())}
