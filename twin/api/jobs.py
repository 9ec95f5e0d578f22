"""Planning jobs: submit a what-if study, follow its progress, read its result, cancel it.

Engineers submit and cancel; viewers read. Submissions are limited (an expensive endpoint): they count
against the caller's `rate_limits.expensive`, and a caller may have `jobs.max_pending_per_caller` jobs
queued or running, the service `jobs.max_pending`; beyond that 429 with Retry-After.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from plantmodel.scenario import ScenarioError, WhatIf, variant_lines
from twin.api.deps import ClockDep, ConfigDep, JobRunnerDep, JobStoreDep, LimitsDep, PerformanceDep, PlantDep, TwinDep
from twin.auth import Principal, require
from twin.jobs import FINISHED
from twin.plan_request import live_start, study_size

router = APIRouter(prefix="/api/jobs", tags=["planning jobs"])


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: WhatIf = Field(description="the study, as in a `sim plan` scenario file without `plant`: the twin "
                             "plans on its own plant model")
    from_live: bool = Field(False, description="start every replication from the line as the twin sees it now")


class JobCreated(BaseModel):
    id: str
    state: str


@router.post("", status_code=202)
async def submit(body: JobRequest, response: Response, store: JobStoreDep, runner: JobRunnerDep, config: ConfigDep,
                 plant: PlantDep, limits: LimitsDep, twin: TwinDep, performance: PerformanceDep, clock: ClockDep,
                 caller: Annotated[Principal, Depends(require("engineer"))]) -> JobCreated:
    cfg = config.jobs
    lines = plant.lines()
    wanted = body.scenario.line
    target = lines[0] if wanted is None else next((ln for ln in lines if ln.config.id == wanted), None)
    if target is None or not caller.sees(target.path):  # before anything else: an outsider learns nothing
        mine = [ln.config.id for ln in lines if caller.sees(ln.path)]
        raise HTTPException(404, f"no line {wanted or lines[0].config.id!r} to plan; yours: {mine}")
    if runner.planner is None:
        raise HTTPException(503, "planning is not available: this service was started without a planner")
    scenario = body.scenario.model_dump(mode="json")
    size = study_size(scenario)
    if size > cfg.max_replication_hours:
        raise HTTPException(422, [{"loc": ["body", "scenario"], "type": "too_large", "msg":
                                   f"the study asks for {size:.0f} simulated hours (hours x replications x (1 + "
                                   f"variants)); this service accepts up to {cfg.max_replication_hours:.0f}"}])
    try:
        baseline, _ = variant_lines(plant, body.scenario)
    except ScenarioError as exc:
        raise HTTPException(422, [{"loc": ["body", "scenario", *p.split(":")[0].split(".")], "type": "scenario",
                                   "msg": p} for p in exc.problems]) from None
    limits.check(limits.expensive, caller)  # the per-caller request rate of every expensive endpoint
    retry = {"Retry-After": str(cfg.retry_after_s)}
    if store.pending(caller.identity) >= cfg.max_pending_per_caller:
        raise HTTPException(429, f"{caller.identity} already has {cfg.max_pending_per_caller} jobs queued or running; "
                            "wait for one to finish or cancel one", headers=retry)
    if store.pending() >= cfg.max_pending:
        raise HTTPException(429, f"{cfg.max_pending} jobs are queued or running; try again later", headers=retry)
    start = None
    if body.from_live:
        start = live_start(twin, performance.stops, baseline, clock.now()).model_dump(mode="json")
    plan_request = {"plant": plant.model_dump(mode="json", exclude_defaults=True), "scenario": scenario,
                    "start": start, "limits": cfg.limits()}
    job_id = store.add(caller.identity, baseline.path, scenario, start, plan_request, time.time())
    runner.submit(job_id)
    response.headers["Location"] = f"/api/jobs/{job_id}"
    return JobCreated(id=job_id, state="queued")


@router.get("")
async def list_jobs(store: JobStoreDep, caller: Annotated[Principal, Depends(require("viewer"))],
                    state: Annotated[str | None, Query(pattern="^(queued|running|done|failed|cancelled)$")] = None,
                    owner: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Newest first, without results (GET one job for its result); a scoped caller sees its lines' jobs."""
    return [j for j in store.list(state=state, owner=owner, limit=limit) if caller.sees(j["line"])]


@router.get("/{job_id}")
async def get_job(job_id: str, store: JobStoreDep,
                  caller: Annotated[Principal, Depends(require("viewer"))]) -> dict[str, Any]:
    job = store.get(job_id)
    if job is None or not caller.sees(job["line"]):
        raise HTTPException(404, f"no job {job_id!r}")
    return job


@router.delete("/{job_id}")
async def cancel_job(job_id: str, store: JobStoreDep, runner: JobRunnerDep,
                     caller: Annotated[Principal, Depends(require("engineer"))]) -> dict[str, Any]:
    """Cancel a queued or running job (a running one's process is stopped at once); 409 once it has finished."""
    job = store.get(job_id, with_result=False)
    if job is None or not caller.sees(job["line"]):
        raise HTTPException(404, f"no job {job_id!r}")
    if job["state"] in FINISHED or not runner.cancel(job_id):
        raise HTTPException(409, f"job {job_id} has already finished ({store.state(job_id)})")
    return store.get(job_id, with_result=False) or {}
