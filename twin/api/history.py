"""History through the twin: series with downsampling, state timelines, CSV, and the line at a past instant.

The same property path as the live API: ``/api/assets/{asset}/signals/{signal}`` is now, and
``/api/assets/{asset}/signals/{signal}/history`` is then. These read the historian, so they are rate-limited.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from twin.api.live import asset_live, json_response, visible
from twin.auth import Principal, check_scope
from twin.history import NoHistory, line_at, timeline
from twin.limits import expensive

router = APIRouter(prefix="/api", tags=["history"])
Caller = Annotated[Principal, Depends(expensive)]
T = TypeVar("T")
MAX_RANGE = timedelta(days=31)


async def _read(request: Request, fn: Callable[[Any], T]) -> T:
    try:
        return await asyncio.to_thread(lambda: fn(request.app.state.history.historian()))
    except NoHistory as exc:
        raise HTTPException(409, str(exc)) from None


def _range(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) with the defaults: end is `now` (plant time), start an hour before end."""
    end = _utc(end) if end else now
    start = _utc(start) if start else end - timedelta(hours=1)
    if start >= end:
        raise HTTPException(422, "start must be before end")
    if end - start > MAX_RANGE:
        raise HTTPException(422, f"at most {MAX_RANGE.days} days per request; use step_s and several requests")
    return start, end


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@router.get("/assets/{path:path}/signals/{signal}/history")
async def signal_history(
    path: str, signal: str, request: Request, caller: Caller,
    start: Annotated[datetime | None, Query(description="default: an hour before end")] = None,
    end: Annotated[datetime | None, Query(description="default: now")] = None,
    step_s: Annotated[int | None, Query(ge=1, le=86_400, description="aggregate into windows of this length")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="at most this many raw points")] = 10_000,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """A signal's samples (or mean/min/max/last per `step_s` window) over [start, end), as JSON or CSV."""
    check_scope(caller, path)
    twin = request.app.state.twin.assets.get(path)
    if twin is None:
        raise HTTPException(404, f"no asset {path!r}")
    spec = twin.asset.signal(signal)
    if spec is None:
        raise HTTPException(404, f"a {twin.asset.type} has no signal {signal!r}")
    lo, hi = _range(start, end, request.app.state.clock.now())
    if step_s is None:
        samples = await _read(request, lambda h: h.samples(path, signal, lo, hi))
        truncated = len(samples) > limit
        points = [{"ts": s.ts, "value": s.value, "quality": str(s.quality)} for s in samples[-limit:]]
    else:
        windows = await _read(request, lambda h: h.windows(path, signal, lo, hi, step_s))
        truncated = False
        points = [{"ts": w.start, "count": w.count, "mean": w.mean, "min": w.min, "max": w.max, "last": w.last}
                  for w in windows]
    if format == "csv":
        return _csv(points, f"{path.replace('/', '_')}_{signal}.csv")
    return json_response({"asset": path, "signal": signal, "unit": spec.unit, "start": lo, "end": hi,
                          "step_s": step_s, "truncated": truncated, "points": points})


@router.get("/history/{path:path}")
async def history(path: str, request: Request, caller: Caller, start: datetime | None = None,
                  end: datetime | None = None, step_s: Annotated[int | None, Query(ge=1, le=86_400)] = None,
                  limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
                  format: Literal["json", "csv"] = "json") -> Response:
    """Short form of `/api/assets/{asset}/signals/{signal}/history`: the path is the asset's, then the signal."""
    asset, _, signal = path.rpartition("/")
    if not asset:
        raise HTTPException(404, "give the asset path and the signal: /api/history/<asset path>/<signal>")
    return await signal_history(asset, signal, request, caller, start, end, step_s, limit, format)


@router.get("/assets/{path:path}/timeline")
async def state_timeline(path: str, request: Request, caller: Caller, start: datetime | None = None,
                         end: datetime | None = None) -> Response:
    """The asset's states over [start, end) as segments (a buffer's: empty, holding, full)."""
    check_scope(caller, path)
    twin = request.app.state.twin.assets.get(path)
    if twin is None:
        raise HTTPException(404, f"no asset {path!r}")
    lo, hi = _range(start, end, request.app.state.clock.now())
    a = twin.asset
    segments = await _read(request, lambda h: timeline(h, a, lo, hi))
    return json_response({"asset": path, "start": lo, "end": hi, "segments": [s.as_dict() for s in segments]})


@router.get("/replay")
async def replay(request: Request, caller: Caller, at: datetime,
                 prefix: Annotated[str, Query(max_length=500)] = "") -> Response:
    """Every asset (under `prefix`) as it was at `at`: the newest value of each signal then, and the alerts open
    then. Same shape as `/api/assets`, so a client draws the past with the code that draws the present."""
    at = _utc(at)
    app = request.app
    past = await _read(request, lambda h: line_at(h, app.state.plant, at, prefix))
    assets = [asset_live(t, at) for t in visible(past.assets, caller, prefix)]
    alerts_at = getattr(app.state, "alerts_at", None)
    alerts = [a for a in alerts_at(at) if caller.sees(str(a.get("asset", "")))] if alerts_at else []
    return json_response({"at": at, "assets": assets, "alerts": alerts})


def _csv(points: list[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    if points:
        writer = csv.DictWriter(out, fieldnames=list(points[0]))
        writer.writeheader()
        for p in points:
            writer.writerow({k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
                             for k, v in p.items()})
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
