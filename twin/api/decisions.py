"""The twin's maintenance and speed decisions: what it evaluated, what it proposes, what became of it.

Viewers read decisions (with every option's simulated outcome); engineers ask for one on a station and
turn one down before its command is requested. A proposal is approved or rejected as a command
(`/api/commands/{id}/approve`), by any engineer: the twin requested it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from twin.api.deps import DecisionsDep, LimitsDep
from twin.auth import Principal, check_scope, require
from twin.decisions import DecisionEngine

router = APIRouter(prefix="/api/decisions", tags=["decisions"])
DecisionId = Annotated[int, Path(ge=1, le=2**62)]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: str = Field(min_length=1, description="ISA-95 path of a station")


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=2000)


def _engine(engine: DecisionEngine | None) -> DecisionEngine:
    if engine is None:
        raise HTTPException(404, "decisions are not configured on this twin (decisions: in its config)")
    return engine


def _public(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "updated_s"}


@router.get("")
async def list_decisions(decisions: DecisionsDep, caller: Annotated[Principal, Depends(require("viewer"))],
                         asset: str | None = None,
                         state: Annotated[str | None, Query(pattern="^[a-z_]{1,20}$")] = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    """Newest first."""
    engine = _engine(decisions)
    return [_public(d) for d in engine.book.list(asset=asset, state=state, limit=limit) if caller.sees(d["asset"])]


@router.get("/{decision_id}")
async def get_decision(decision_id: DecisionId, decisions: DecisionsDep,
                       caller: Annotated[Principal, Depends(require("viewer"))]) -> dict[str, Any]:
    d = _engine(decisions).book.get(decision_id)
    if d is None or not caller.sees(d["asset"]):
        raise HTTPException(404, f"no decision {decision_id}")
    return _public(d)


@router.post("", status_code=202)
async def ask(body: DecisionRequest, decisions: DecisionsDep, limits: LimitsDep,
              caller: Annotated[Principal, Depends(require("engineer"))]) -> dict[str, Any]:
    """Evaluate the options for a station now; 409 while one is open for it."""
    engine = _engine(decisions)
    if body.asset not in engine.stations:
        raise HTTPException(422, [{"loc": ["body", "asset"], "type": "value_error",
                                   "msg": f"{body.asset!r} is not a station of the plant model"}])
    check_scope(caller, body.asset)
    if engine.job_runner.planner is None:
        raise HTTPException(503, "decisions need the planner: this service was started without one")
    open_one = engine.book.open_for(body.asset)
    if open_one is not None:
        raise HTTPException(409, f"decision {open_one['id']} is open for {body.asset} ({open_one['state']})")
    limits.check(limits.expensive, caller)
    alert = engine.alerts_seen.get(body.asset)
    decision_id = engine.start(body.asset, f"asked by {caller.identity}", alert, engine.clock())
    return _public(engine.book.get(decision_id) or {})


@router.post("/{decision_id}/reject")
async def reject(decision_id: DecisionId, body: Rejection, decisions: DecisionsDep,
                 caller: Annotated[Principal, Depends(require("engineer"))]) -> dict[str, Any]:
    """Turn down a decision still evaluating or scheduled (a proposed one is rejected as its command)."""
    engine = _engine(decisions)
    d = engine.book.get(decision_id)
    if d is None or not caller.sees(d["asset"]):
        raise HTTPException(404, f"no decision {decision_id}")
    if not engine.reject(decision_id, caller.identity, body.comment):
        raise HTTPException(409, f"decision {decision_id} is {d['state']}: only an evaluating or scheduled one is "
                            "turned down here")
    return _public(engine.book.get(decision_id) or {})
