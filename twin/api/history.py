"""History through the twin: series with downsampling, state timelines, CSV, and the line at a past instant.

The same property path as the live API: ``/api/assets/{asset}/signals/{signal}`` is now, and
``/api/assets/{asset}/signals/{signal}/history`` is then. These read the historian, so they are rate-limited and
bounded per request; series (the large ones) are read and serialised in worker processes, timelines and replays
in worker threads, a few at a time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import StreamingResponse

from twin.api.deps import AlertsDep, PlantDep, ServicesDep
from twin.api.live import asset_live, json_response, visible
from twin.api.times import in_range
from twin.app_state import TwinServices
from twin.auth import Principal, check_scope
from twin.history import NoHistory, line_at, timeline
from twin.history_work import series
from twin.limits import expensive

router = APIRouter(prefix="/api", tags=["history"])
Caller = Annotated[Principal, Depends(expensive)]
T = TypeVar("T")
MAX_RANGE = timedelta(days=31)
MAX_WINDOWS = 50_000  # a minute's windows over the longest range; a chart needs a few hundred


async def _read(services: TwinServices, fn: Callable[[Any], T]) -> T:
    """In a worker thread, at most `heavy_reads` at once: the event loop keeps serving live state meanwhile."""
    async with services.heavy_reads:
        try:
            return await asyncio.to_thread(lambda: fn(services.history.historian()))
        except NoHistory as exc:
            raise HTTPException(409, str(exc)) from None


def _range(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) with the defaults: end is `now` (plant time), start an hour before end."""
    end = in_range(end, "end") if end else now
    start = in_range(start, "start") if start else end - timedelta(hours=1)
    if start >= end:
        raise HTTPException(422, "start must be before end")
    if end - start > MAX_RANGE:
        raise HTTPException(422, f"at most {MAX_RANGE.days} days per request; use step_s and several requests")
    return start, end


@router.get("/assets/{path:path}/signals/{signal}/history")
async def signal_history(
    path: str, signal: str, services: ServicesDep, caller: Caller,
    start: Annotated[datetime | None, Query(description="default: an hour before end")] = None,
    end: Annotated[datetime | None, Query(description="default: now")] = None,
    step_s: Annotated[int | None, Query(ge=1, le=86_400, description="aggregate into windows of this length "
                                        f"(at most {MAX_WINDOWS} windows per request)")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="at most this many raw points (the newest)")] = 10_000,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """A signal's samples (or mean/min/max/last per `step_s` window) over [start, end), as JSON or CSV (streamed).

    Bounded per request: at most 31 days, `limit` raw points, or 50,000 windows (a 422 says so); read and
    serialised in a worker process (`twin.history_work`)."""
    check_scope(caller, path)
    twin = services.twin.assets.get(path)
    if twin is None:
        raise HTTPException(404, f"no asset {path!r}")
    spec = twin.asset.signal(signal)
    if spec is None:
        raise HTTPException(404, f"a {twin.asset.type} has no signal {signal!r}")
    lo, hi = _range(start, end, services.clock.now())
    span_s = (hi - lo).total_seconds()
    if step_s is not None and span_s / step_s > MAX_WINDOWS:
        raise HTTPException(422, [{"loc": ["query", "step_s"], "type": "too_many_windows", "msg":
                                   f"{span_s / step_s:.0f} windows asked for; at most {MAX_WINDOWS} per request: "
                                   f"a step_s of at least {math.ceil(span_s / MAX_WINDOWS)} or a shorter range"}])

    try:
        source = services.history.source()
        body = await services.heavy.run(series, source, path, signal, spec.unit, lo, hi, step_s, limit, format)
    except NoHistory as exc:
        raise HTTPException(409, str(exc)) from None
    if format == "csv":
        return StreamingResponse(_pieces(body), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{path.replace("/", "_")}_{signal}.csv"'})
    return Response(body, media_type="application/json")


@router.get("/history/{path:path}")
async def history(path: str, services: ServicesDep, caller: Caller, start: datetime | None = None,
                  end: datetime | None = None, step_s: Annotated[int | None, Query(ge=1, le=86_400)] = None,
                  limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
                  format: Literal["json", "csv"] = "json") -> Response:
    """Short form of `/api/assets/{asset}/signals/{signal}/history`: the path is the asset's, then the signal."""
    asset, _, signal = path.rpartition("/")
    if not asset:
        raise HTTPException(404, "give the asset path and the signal: /api/history/<asset path>/<signal>")
    return await signal_history(asset, signal, services, caller, start, end, step_s, limit, format)


@router.get("/assets/{path:path}/timeline")
async def state_timeline(path: str, services: ServicesDep, caller: Caller, start: datetime | None = None,
                         end: datetime | None = None) -> Response:
    """The asset's states over [start, end) as segments (a buffer's: empty, holding, full)."""
    check_scope(caller, path)
    twin = services.twin.assets.get(path)
    if twin is None:
        raise HTTPException(404, f"no asset {path!r}")
    lo, hi = _range(start, end, services.clock.now())
    a = twin.asset

    def body(h: Any) -> bytes:
        segments = timeline(h, a, lo, hi)
        return orjson.dumps({"asset": path, "start": lo, "end": hi, "segments": [s.as_dict() for s in segments]},
                            option=orjson.OPT_UTC_Z)

    return Response(await _read(services, body), media_type="application/json")


@router.get("/replay")
async def replay(services: ServicesDep, plant: PlantDep, alerts_now: AlertsDep, caller: Caller, at: datetime,
                 prefix: Annotated[str, Query(max_length=500)] = "") -> Response:
    """Every asset (under `prefix`) as it was at `at`: the newest value of each signal then, and the alerts open
    then. Same shape as `/api/assets`, so a client draws the past with the code that draws the present."""
    at = in_range(at, "at")
    past = await _read(services, lambda h: line_at(h, plant, at, prefix))
    assets = [asset_live(t, at) for t in visible(past.assets, caller, prefix)]
    alerts = [a for a in alerts_now.store.at(at) if caller.sees(str(a.get("asset", "")))]
    return json_response({"at": at, "assets": assets, "alerts": alerts})


def _pieces(body: bytes, size: int = 1 << 16) -> Iterator[bytes]:
    """A finished export handed to the socket in pieces, so one slow client holds no more than its buffer."""
    for i in range(0, len(body), size):
        yield body[i:i + size]
