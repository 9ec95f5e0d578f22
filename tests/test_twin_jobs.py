"""Planning jobs through the twin's API: real worker processes, the real simulator, the twin's own database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from support import AUTH_CONFIG, PROJECT, ServedApp, auth, wait_until

from factory_twin.sim_cli import plan
from planning.planner import plan_job
from plantmodel.config import load_config, parse_config
from plantmodel.plant import PlantConfig
from plantmodel.scenario import LineStart, StationStart
from plantmodel.telemetry import Event, EventKind, Sample
from simulators.flow.line import FlowLine
from twin.app_state import services_of
from twin.config import TwinConfig
from twin.main import create_app

ENTERPRISE = "jobtest"
LINE = f"{ENTERPRISE}/plant1/machining/line1"
STUDY = {"hours": 8, "replications": 3, "seed": 7,
         "variants": [{"name": "second cnc-2", "set": {"cnc-2.sim.parallel": 2}}],
         "sweeps": [{"key": "buf-1.capacity", "values": [2]}]}


def plant() -> PlantConfig:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text()
    return parse_config(text.replace("enterprise: acme", f"enterprise: {ENTERPRISE}"), PlantConfig)


OTHER_LINE = {"name": "line2-viewer", "role": "viewer", "key_env": "FT_LINE2_KEY", "scope": [f"{LINE}2"]}


def app_for(tmp_path: Path, broker: Any, **jobs: Any) -> Any:
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": broker.model_dump(),
                                     "database": str(tmp_path / "twin.db"),
                                     "auth": {"api_keys": [*AUTH_CONFIG["api_keys"], OTHER_LINE]},
                                     "jobs": {"workers": 1} | jobs})
    return create_app(cfg, plant(), env={**os.environ, "FT_LINE2_KEY": "line2-key-0123456789"}, planner=plan_job)


def wait_state(client: httpx.Client, job_id: str, states: set[str], timeout: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        job = client.get(f"/api/jobs/{job_id}").json()
        return job if job["state"] in states else None
    return wait_until(check, timeout, f"job {job_id} to be {states}")


def test_a_job_runs_in_a_worker_reports_progress_and_matches_the_cli(tmp_path: Path, mosquitto: Any) -> None:
    scenario = tmp_path / "whatif.yaml"
    scenario.write_text(orjson.dumps({"plant": str(PROJECT / "configs" / "demo-plant.yaml"), **STUDY}).decode())
    assert plan(scenario, 1, tmp_path / "cli") == 0
    cli = orjson.loads((tmp_path / "cli" / "plan.json").read_bytes())
    big = STUDY | {"hours": 24, "replications": 8}
    with ServedApp(app_for(tmp_path, mosquitto)) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        slow = c.post("/api/jobs", json={"scenario": big})
        assert slow.status_code == 202, slow.text
        same = c.post("/api/jobs", json={"scenario": STUDY})
        seen: list[int] = []

        def finished() -> bool:
            job = c.get(f"/api/jobs/{slow.json()['id']}").json()
            seen.append(job["progress"]["done"])
            return job["state"] == "done"
        wait_until(finished, 60, "the big job to finish", interval=0.02)
        assert seen == sorted(seen) and seen[-1] == 24  # (baseline + 2 variants) x 8
        assert any(0 < n < 24 for n in seen), f"no progress seen between start and end: {seen}"
        job = wait_state(c, same.json()["id"], {"done"})
        listed = c.get("/api/jobs", headers=auth("viewer")).json()
    assert job["result"] == cli | {"line": LINE}  # `factory-twin sim plan`'s numbers for the same study and seed
    assert job["progress"] == {"done": 9, "total": 9, "share": 1.0} and job["owner"] == "test-engineer"
    kpis = job["result"]["variants"][1]["kpis"]
    assert 0 < kpis["oee"]["cnc-2"]["oee"] <= 1 and len(kpis["wip_ci95"]) == 2
    assert [j["id"] for j in listed] == [same.json()["id"], slow.json()["id"]] and "result" not in listed[0]


def test_a_job_survives_its_client_disconnecting(tmp_path: Path, mosquitto: Any) -> None:
    body = orjson.dumps({"scenario": STUDY})
    with ServedApp(app_for(tmp_path, mosquitto)) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        with socket.create_connection(("127.0.0.1", served.port)) as s:  # sends the request, never reads a reply
            s.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + f"Authorization: Bearer {auth()['Authorization'][7:]}\r\n".encode()
                      + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        jobs = wait_until(lambda: c.get("/api/jobs").json(), 10, "the job to be accepted")
        job = wait_state(c, jobs[0]["id"], {"done"})
        elsewhere = {"Authorization": "Bearer line2-key-0123456789"}  # a viewer scoped to another line sees none of it
        assert c.get("/api/jobs", headers=elsewhere).json() == []
        assert c.get(f"/api/jobs/{job['id']}", headers=elsewhere).status_code == 404
    assert job["result"]["variants"][0]["name"] == "baseline" and job["line"] == LINE


def test_cancel_stops_a_running_job_and_refuses_a_finished_one(tmp_path: Path, mosquitto: Any) -> None:
    long = STUDY | {"hours": 1000, "replications": 50}
    with ServedApp(app_for(tmp_path, mosquitto)) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        running = c.post("/api/jobs", json={"scenario": long}).json()["id"]
        queued = c.post("/api/jobs", json={"scenario": STUDY}).json()["id"]
        wait_state(c, running, {"running"})
        assert c.delete(f"/api/jobs/{running}", headers=auth("viewer")).status_code == 403
        cancelled = c.delete(f"/api/jobs/{running}")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        done = wait_state(c, queued, {"done"})  # the worker is free again at once
        assert c.get(f"/api/jobs/{running}").json()["state"] == "cancelled"
        assert c.delete(f"/api/jobs/{queued}").status_code == 409
        assert c.delete("/api/jobs/nope").status_code == 404
    assert done["result"] is not None


def test_a_restart_keeps_finished_jobs_and_reruns_unfinished_ones(tmp_path: Path, mosquitto: Any) -> None:
    long = STUDY | {"hours": 1000, "replications": 50}
    with ServedApp(app_for(tmp_path, mosquitto)) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        finished = c.post("/api/jobs", json={"scenario": STUDY}).json()["id"]
        result = wait_state(c, finished, {"done"})["result"]
        running = c.post("/api/jobs", json={"scenario": long}).json()["id"]
        queued = c.post("/api/jobs", json={"scenario": STUDY | {"seed": 8}}).json()["id"]
        wait_state(c, running, {"running"})
    # The service stopped with one job running and one queued; a new one on the same database takes them up.
    with ServedApp(app_for(tmp_path, mosquitto)) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        assert c.get(f"/api/jobs/{finished}").json()["result"] == result
        again = wait_state(c, running, {"running"})
        assert again["runs"] == 2
        c.delete(f"/api/jobs/{running}")
        rerun = wait_state(c, queued, {"done"})
    assert rerun["result"]["seed"] == 8 and rerun["runs"] == 1


def test_submissions_are_validated_limited_and_need_an_engineer(tmp_path: Path, mosquitto: Any) -> None:
    long = STUDY | {"hours": 1000, "replications": 50}
    app = app_for(tmp_path, mosquitto, max_pending_per_caller=2, max_replication_hours=500_000)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        assert c.post("/api/jobs", json={"scenario": STUDY}, headers=auth("viewer")).status_code == 403
        typo = c.post("/api/jobs", json={"scenario": STUDY | {"variants": [{"name": "x", "set": {"cnc-9.sim.x": 1}}]}})
        assert typo.status_code == 422 and "variants[0].set.cnc-9.sim.x" in typo.text
        negative = c.post("/api/jobs", json={"scenario": STUDY | {"replications": 1}})
        assert negative.status_code == 422 and "replications" in negative.text
        huge = c.post("/api/jobs", json={"scenario": STUDY | {"hours": 100_000}})
        assert huge.status_code == 422 and "simulated hours" in huge.text
        first = c.post("/api/jobs", json={"scenario": long}).json()["id"]
        c.post("/api/jobs", json={"scenario": STUDY})
        refused = c.post("/api/jobs", json={"scenario": STUDY})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "30"
        assert c.post("/api/jobs", json={"scenario": STUDY}, headers=auth("admin")).status_code == 202
        c.delete(f"/api/jobs/{first}")
        assert c.post("/api/jobs", json={"scenario": STUDY}).status_code == 202  # a slot is free again


def test_a_job_from_live_starts_from_the_twins_buffers_and_breakdowns(tmp_path: Path, mosquitto: Any) -> None:
    app = app_for(tmp_path, mosquitto)
    now = datetime.now(UTC)
    twin = services_of(app).twin
    twin.apply(Sample(f"{LINE}/turning/buf-1", "level", 3, "parts", now))
    for record in (Event(f"{LINE}/milling/cnc-2", EventKind.STATE_CHANGE, now - timedelta(minutes=30),
                         {"to": "down"}),
                   Sample(f"{LINE}/milling/cnc-2", "state", "down", "", now - timedelta(minutes=30))):
        twin.apply(record)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        job_id = c.post("/api/jobs", json={"scenario": STUDY, "from_live": True}).json()["id"]
        job = wait_state(c, job_id, {"done"})
    assert job["from_live"] and job["start"]["buffers"] == {"buf-1": 3}
    assert job["start"]["stations"]["cnc-2"]["down_for_s"] == pytest.approx(1800, abs=60)
    # and from the moment it was asked for, where the line's shift calendar places the run
    assert abs(datetime.fromisoformat(job["start"]["origin"]) - now) < timedelta(minutes=5)


def test_the_simulator_starts_from_a_line_start() -> None:
    line = load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig).lines()[0]
    flow = FlowLine(line, 1, record_events=True, start=LineStart(buffers={"buf-1": 3, "buf-2": 99},
                                                                 stations={"cnc-2": StationStart(down_for_s=10)}))
    capacity = line.asset("buf-2").config.capacity
    assert len(flow.buffers["buf-1"].items) == 3 and len(flow.buffers["buf-2"].items) == capacity
    flow.env.run(until=0.001)
    assert flow.ledger.wip >= 3 + capacity
    cnc2 = next(s for s in flow.stations if s.id == "cnc-2")
    assert cnc2.state[0] == "down" and cnc2.failures == 0


def test_the_twin_ops_bench_writes_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "twin-ops", "--jobs", "2", "--commands",
                             "3", "--json", str(out)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    data = orjson.loads(out.read_bytes())
    assert data["jobs"] == 2 and data["replications_per_job"] == 9 and data["jobs_per_s"] > 0
    assert data["commands"] == 3 and 0 < data["approve_to_opcua_ack_ms"]["p50"] <= data["approve_http_ms"]["max"]
