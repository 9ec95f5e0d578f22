"""OEE, downtime, SPC and anomaly detection (alerts have their own router).

A scoped caller sees and acts on the lines, stations and stops inside their scope only; retraining an anomaly
model is an engineer's, audited, rate-limited and bounded in the history it reads.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from analytics.oee.downtime import pareto
from analytics.oee.line import LineOee
from plantmodel.telemetry import Sample, from_micros
from twin.api.deps import ClockDep, CommandsDep, HistoryDep, LimitsDep, PerformanceDep, StoreDep
from twin.api.times import in_range
from twin.auth import Principal, check_scope, require
from twin.oee import window_dict
from twin.performance import LinePerformance

router = APIRouter(prefix="/api", tags=["performance"])
Engineer = Annotated[Principal, Depends(require("engineer"))]
Viewer = Annotated[Principal, Depends(require("viewer"))]
WindowKind = Literal["shift", "day"]
MAX_TRAINING = timedelta(hours=24)


@router.get("/oee")
async def oee_now(perf: PerformanceDep, caller: Viewer, window: WindowKind = "shift") -> dict[str, Any]:
    """Live OEE of every line and every station for the current shift (or day), with the loss breakdown."""
    now = perf.now_us()
    lines = []
    for path in filter(caller.sees, perf.oee.lines):
        lo = perf.oee.line(path, window, now)
        lines.append({"line": path} | lo.as_dict() | {"target": _target(perf, path, lo)})
    assets = [{"asset": p} | (window_dict(perf.oee.current(p, window, now)) or {"window": None})
              for p in perf.oee.assets if caller.sees(p)]
    return {"window": window, "current": _current(perf, window, now), "lines": lines, "assets": assets}


def _current(perf: LinePerformance, window: WindowKind, now: int) -> dict[str, Any]:
    """The window now running: its key, the shift's name (none between shifts, for days, or without a shift
    calendar), where it starts and ends."""
    w = perf.oee.series[window].window_at(now)
    name = w.planned[0].name if window == "shift" and perf.calendar is not None and w.planned else None
    return {"key": w.key, "shift": name, "start": from_micros(w.start), "end": from_micros(w.end)}


def _target(perf: LinePerformance, line: str, lo: LineOee) -> dict[str, Any] | None:
    """The line's OEE target (its `oee` alert rule), as good parts by now: the planned time with a known state at
    the bottleneck's ideal pace, times the target; the same time base as the line's OEE."""
    targets = [w.rule.target for w in perf.alerts.oees if line in w.paths]
    if not targets:
        return None
    target = max(targets)
    cycle = lo.bottleneck_ideal_cycle_s
    good = int(lo.planned_busy_time_s * target / cycle) if cycle else None
    return {"oee": target, "good_by_now": good}


@router.get("/oee/history")
async def oee_history(perf: PerformanceDep, caller: Viewer, asset: str, window: WindowKind = "shift"
                      ) -> list[dict[str, Any]]:
    """Finished shifts (or days) of one asset, oldest first."""
    check_scope(caller, asset)
    if asset not in perf.oee.assets:
        raise HTTPException(404, f"no station {asset!r} (OEE is kept for stations only)")
    return [d for w in perf.oee.history(asset, window) if (d := window_dict(w)) is not None]


@router.get("/oee/{path:path}")
async def oee_asset(path: str, perf: PerformanceDep, caller: Viewer) -> dict[str, Any]:
    check_scope(caller, path)
    if path not in perf.oee.assets:
        raise HTTPException(404, f"no station {path!r} (OEE is kept for stations only)")
    now = perf.now_us()
    return {"asset": path, "shift": window_dict(perf.oee.current(path, "shift", now)),
            "day": window_dict(perf.oee.current(path, "day", now)),
            "history": [window_dict(w) for w in perf.oee.history(path, "shift")]}


@router.get("/downtime")
async def downtime(perf: PerformanceDep, caller: Viewer, asset: str = "", unqualified: bool = False,
                   limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> list[dict[str, Any]]:
    """Stops, newest first; `asset` is a path prefix (a line, a cell or one machine)."""
    now = perf.now_us()
    stops = [s for s in perf.stops.select(asset, unqualified=unqualified) if caller.sees(s.asset)]
    return [s.as_dict(now) for s in stops[::-1][:limit]]


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)
    by: str | None = Field(None, min_length=1, max_length=100,
                           description="who qualifies the stop, if not the caller (e.g. the operator who said so)")
    comment: str | None = Field(None, max_length=2000)


@router.post("/downtime/{stop_id:path}/reason")
async def qualify_stop(stop_id: str, body: ReasonIn, perf: PerformanceDep, clock: ClockDep, store: StoreDep,
                       caller: Engineer) -> dict[str, Any]:
    check_scope(caller, stop_id.rpartition("@")[0])
    by = caller.identity if body.by is None else f"{body.by} (entered by {caller.identity})"
    at = clock.now()  # plant time, as the stop itself
    stop = perf.stops.qualify(stop_id, body.reason, by, body.comment, at)
    if stop is None:
        raise HTTPException(404, f"no stop {stop_id!r}")
    store.save_reason(stop_id, body.reason, by, body.comment, at)
    return stop.as_dict(perf.now_us())


@router.get("/downtime/reasons")
async def downtime_reasons(perf: PerformanceDep, caller: Viewer) -> dict[str, Any]:
    """What the machines' alarm codes mean (`oee.reasons` in the config) and the reasons people have given: the
    words a stop-reason form offers and an alarm code is translated into. A scoped caller gets the codes that
    occurred inside their scope (on a stop or an open alert) only: which codes a line reports is its data."""
    given = sorted({s.reason for s in perf.stops.stops
                    if s.reason and s.reason_source == "operator" and caller.sees(s.asset)})
    codes = dict(perf.stops.reasons)
    if caller.scope:
        seen = {s.code for s in perf.stops.stops if s.code and caller.sees(s.asset)}
        seen |= {str(a.detail["code"]) for a in perf.alerts.by_id.values() if a.detail.get("code") is not None
                 and caller.sees(a.asset)}
        codes = {k: v for k, v in codes.items() if k in seen}
    return {"codes": codes, "given": given}


@router.get("/downtime/pareto")
async def downtime_pareto(perf: PerformanceDep, caller: Viewer,
                          by: Literal["reason", "asset", "kind", "shift"] = "reason",
                          window: WindowKind | Literal["all"] = "day", asset: str = "") -> dict[str, Any]:
    """Stop time by reason, asset, kind or shift over the current shift, day, or everything kept."""
    now = perf.now_us()
    stops = [s.as_stop() for s in perf.stops.select(asset) if caller.sees(s.asset)]
    if window == "all":
        start = min((s.start for s in stops), default=now)
    else:
        start = perf.oee.series[window].window_at(now - 1).start
    series = perf.oee.series["shift"]
    keys = {"reason": lambda s: s.label, "asset": lambda s: s.asset, "kind": lambda s: s.kind,
            "shift": lambda s: series.window_at(s.start).key}
    bars = pareto(stops, start, now, by=keys[by])
    return {"by": by, "window": window, "bars": [asdict(b) for b in bars]}


@router.get("/spc")
async def spc(perf: PerformanceDep, caller: Viewer) -> list[dict[str, Any]]:
    """Control chart, limits and capability of every configured quality characteristic."""
    return [c.as_dict() for c in perf.spc.by_key.values() if caller.sees(c.asset)]


@router.get("/anomaly")
async def anomaly(perf: PerformanceDep, caller: Viewer) -> list[dict[str, Any]]:
    """Each monitored asset: learning or monitoring, its latest score and threshold, its last alarm."""
    mon = perf.anomaly
    return [st.status(mon.config.baseline_rows) for path, st in mon.assets.items() if caller.sees(path)]


class TrainIn(BaseModel):
    start: datetime = Field(description="first instant of a healthy baseline window")
    end: datetime = Field(description=f"at most {MAX_TRAINING.total_seconds() / 3600:.0f} h after start")


@router.post("/anomaly/{path:path}/train")
async def train_anomaly(path: str, body: TrainIn, perf: PerformanceDep, limits: LimitsDep, reader: HistoryDep,
                        book: CommandsDep, caller: Engineer) -> dict[str, Any]:
    """Retrain one asset's model on a window of its history (which should be healthy operation): an expensive
    request (rate-limited per caller), recorded in the audit log."""
    mon = perf.anomaly
    check_scope(caller, path)
    if path not in mon.assets:
        raise HTTPException(404, f"{path!r} is not monitored for anomalies")
    start, end = in_range(body.start, "start"), in_range(body.end, "end")
    if not start < end <= start + MAX_TRAINING:
        raise HTTPException(422, f"end must be after start, by at most {MAX_TRAINING.total_seconds() / 3600:.0f} h")
    limits.check(limits.expensive, caller)
    if not reader.available():
        raise HTTPException(409, "the twin has no historian to train from (history: in its config)")

    def read() -> list[Sample]:  # blocking I/O, off the loop; the model itself changes on the loop
        return reader.historian().samples(asset=path, start=start, end=end)

    samples = await asyncio.to_thread(read)
    try:
        result = mon.train_from(path, samples)
    except ValueError as exc:
        book.record(caller.identity, "retrain_refused", path, "anomaly_model",
                    {"start": start.isoformat(), "end": end.isoformat()}, str(exc))
        raise HTTPException(422, str(exc)) from None
    book.record(caller.identity, "retrained", path, "anomaly_model",
                {"start": start.isoformat(), "end": end.isoformat()}, None, {"samples": len(samples)})
    return result
