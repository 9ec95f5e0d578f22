"""Planning jobs cannot take the service's CPU for hours: each is bounded in simulation events per replication,
CPU seconds and wall time, fails with an error that says which bound it hit, and is not started again and
again after restarts."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import AUTH_CONFIG, PROJECT, ServedApp, auth, wait_until

from planning.planner import plan_job
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from twin.app_state import services_of
from twin.config import TwinConfig
from twin.db import TwinDatabase
from twin.jobs import RUNNING, JobStore
from twin.main import create_app

LINE = "acme/plant1/machining/line1"


def app_for(tmp_path: Path, **jobs: Any) -> Any:
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": {"port": 1}, "auth": AUTH_CONFIG,
                                     "database": str(tmp_path / "twin.db"), "jobs": {"workers": 1} | jobs})
    return create_app(cfg, load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig), planner=plan_job)


def finished(c: httpx.Client, job_id: str, timeout: float = 90) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        job = c.get(f"/api/jobs/{job_id}").json()
        return job if job["state"] in ("done", "failed", "cancelled") else None
    return wait_until(check, timeout, f"job {job_id} to finish")


def test_a_runaway_model_fails_on_its_event_budget(tmp_path: Path) -> None:
    absurd = {"cnc-1.sim.mtbf_s": 1e-6, "cnc-1.sim.mttr_s": 1e-6}  # a failure and a repair every microsecond
    study = {"hours": 4, "replications": 2, "variants": [{"name": "absurd", "set": absurd}]}
    with ServedApp(app_for(tmp_path, max_events_per_run=100_000)) as s, \
            httpx.Client(base_url=s.url, headers=auth(), timeout=10) as c:
        started = time.monotonic()
        job = finished(c, c.post("/api/jobs", json={"scenario": study}).json()["id"])
        assert job["state"] == "failed" and "budget of simulation events" in job["error"], job
        assert time.monotonic() - started < 60


@pytest.mark.parametrize(("bound", "words"), [({"max_wall_s": 1}, "jobs.max_wall_s"),
                                              ({"max_cpu_s": 1}, "jobs.max_cpu_s")])
def test_a_long_job_is_stopped_at_its_time_bounds(tmp_path: Path, bound: dict[str, float], words: str) -> None:
    study = {"hours": 20_000, "replications": 5, "variants": []}  # minutes of CPU: far beyond either bound
    with ServedApp(app_for(tmp_path, **bound)) as s, httpx.Client(base_url=s.url, headers=auth(), timeout=10) as c:
        job = finished(c, c.post("/api/jobs", json={"scenario": study}).json()["id"])
    assert job["state"] == "failed" and words in job["error"], job


def test_a_job_interrupted_by_restarts_is_not_started_for_ever(tmp_path: Path) -> None:
    db = TwinDatabase(tmp_path / "twin.db")
    store = JobStore(db, 10)
    again = store.add("test-engineer", LINE, {"hours": 1, "replications": 1}, None, {"scenario": {}}, time.time())
    twice = store.add("test-engineer", LINE, {"hours": 1, "replications": 1}, None, {"scenario": {}}, time.time())
    store.running(again, time.time())  # started once: the service then stopped
    store.running(twice, time.time())
    store.running(twice, time.time())  # started twice
    db.close()
    app = app_for(tmp_path)
    services_of(app).job_runner.planner = None  # nothing runs: only what the start-up decides is seen
    with ServedApp(app) as s, httpx.Client(base_url=s.url, headers=auth(), timeout=10) as c:
        assert c.get(f"/api/jobs/{again}").json()["state"] == "queued"
        failed = c.get(f"/api/jobs/{twice}").json()
        assert failed["state"] == "failed" and "after 2 starts" in failed["error"], failed
    assert RUNNING not in {j["state"] for j in JobStore(TwinDatabase(tmp_path / "twin.db"), 10).list()}
    assert os.stat(tmp_path / "twin.db").st_mode & 0o077 == 0
