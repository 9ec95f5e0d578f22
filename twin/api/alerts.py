"""Alerts: the list (filtered, scoped, CSV), one alert with its transitions, the lifecycle actions, a summary.

Actions need an engineer; an action the alert's state does not allow is a 409 that says why.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from twin.alerting import AlertEngine, InvalidTransition, NotFound, Severity, State
from twin.alerting.lifecycle import Alert
from twin.api.deps import AlertsDep
from twin.api.times import in_range
from twin.auth import Principal, require

router = APIRouter(prefix="/api", tags=["alerts"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Engineer = Annotated[Principal, Depends(require("engineer"))]
Action = Literal["ack", "shelve", "unshelve", "clear", "close"]
AlertId = Annotated[int, Path(ge=1, le=2**62)]
CSV_COLUMNS = ("id", "rule", "kind", "asset", "severity", "priority", "state", "message", "occurrences",
               "raised_at", "last_at", "cleared_at", "acknowledged", "shelved_until", "escalation", "value",
               "updated_at")


def _visible(engine: AlertEngine, alert_id: int, caller: Principal) -> Alert:
    a = engine.get(alert_id)
    if a is None or not caller.sees(a.asset):
        raise HTTPException(404, f"no alert {alert_id}")
    return a


@router.get("/alerts", response_model=None)
async def list_alerts(
        engine: AlertsDep, caller: Viewer,
        state: Annotated[str, Query(description="comma-separated states, or 'open' for all but closed")] = "",
        asset: Annotated[str, Query(description="ISA-95 path prefix")] = "",
        severity: Annotated[Literal["info", "warning", "critical"] | None, Query(description="at least")] = None,
        since: Annotated[datetime | None, Query(description="changed at or after")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        format: Literal["json", "csv"] = "json") -> list[dict[str, Any]] | Response:
    """Newest change first."""
    states: list[str] = []
    for s in filter(None, (x.strip() for x in state.split(","))):
        if s == "open":
            states += [str(x) for x in State if x is not State.CLOSED]
        elif s in State.__members__.values():
            states.append(s)
        else:
            raise HTTPException(422, f"state: {s!r} is not one of open, {', '.join(State)}")
    since = in_range(since, "since") if since is not None else None
    alerts = engine.store.select(states=states, asset=asset, since=since, limit=limit,
                                   severity=Severity[severity] if severity else None,
                                   scope=list(caller.scope))
    rows = [a.as_dict() for a in alerts]
    if format == "csv":
        out = io.StringIO()
        w = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()})
        return Response(out.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="alerts.csv"'})
    return rows


@router.get("/alerts/summary")
async def summary(engine: AlertsDep, caller: Viewer) -> dict[str, Any]:
    """Counts by state and severity, the flood state, notification delivery per target, the engine's counters."""
    out = engine.summary()
    if caller.scope:  # counts over what this caller may see
        mine = [a for a in engine.by_id.values() if caller.sees(a.asset)]
        out["open"] = len(mine)
        out["unacknowledged"] = sum(1 for a in mine if not a.acked)
        out["by_state"] = {str(s): sum(1 for a in mine if a.state is s) for s in State}
        out["open_by_severity"] = {s.name: sum(1 for a in mine if a.severity is s) for s in Severity}
    if caller.plant_wide:  # the engine's counters span the whole plant
        out["metrics"] = engine.metrics()
    return out


@router.get("/alerts/notifications")
async def notifications(engine: AlertsDep, caller: Viewer, failed: bool = False,
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict[str, Any]]:
    """Delivery outcomes, newest first: target, event, attempts, and the error of a failed one."""
    rows = engine.store.notifications(limit, failed_only=failed)
    if caller.scope:
        rows = [r for r in rows if r["alert_id"] is None
                or ((a := engine.get(r["alert_id"])) is not None and caller.sees(a.asset))]
    return rows


@router.get("/alerts/{alert_id}")
async def get_alert(alert_id: AlertId, engine: AlertsDep, caller: Viewer) -> dict[str, Any]:
    a = _visible(engine, alert_id, caller)
    return a.as_dict() | {"transitions": [t.as_dict() for t in engine.store.transitions(alert_id)]}


class ActionIn(BaseModel):
    comment: str | None = Field(None, max_length=2000, description="why; required to shelve or clear by hand")
    duration_s: float | None = Field(None, gt=0, allow_inf_nan=False, description="shelve only: for how long")


@router.post("/alerts/{alert_id}/{action}")
async def act(alert_id: AlertId, action: Action, engine: AlertsDep, caller: Engineer,
              body: ActionIn | None = None) -> dict[str, Any]:
    """ack, shelve (with duration_s), unshelve, clear (the condition is over, by hand) or close."""
    _visible(engine, alert_id, caller)
    body = body or ActionIn()
    if action in ("shelve", "clear") and not (body.comment or "").strip():
        raise HTTPException(422, f"comment: say why you {action} the alert")
    if action != "shelve" and body.duration_s is not None:
        raise HTTPException(422, "duration_s: only shelving takes a duration")
    try:
        a = engine.act(alert_id, action, caller.identity, body.comment, body.duration_s)
    except NotFound:
        raise HTTPException(404, f"no alert {alert_id}") from None
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return a.as_dict() | {"transitions": [t.as_dict() for t in engine.store.transitions(alert_id)]}
