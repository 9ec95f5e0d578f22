"""`factory-twin bench twin-ops`: planning jobs through the twin's API, and approved commands to the simulated line.

Jobs: `jobs` small studies of the demo line (baseline and two variants, a few replications each) submitted
at once over HTTP; reported: jobs and replications per second through the worker processes, and each
job's time from submission to its result. Control: `commands` request-and-approve rounds of a speed
override to the simulator's OPC-UA server; reported: the approval's HTTP round trip and, inside it, the
time from the approval to the OPC-UA write being acknowledged. Everything runs in one process on loopback.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from factory_twin.runtime import config_path, free_port
from planning.planner import plan_job
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from simulators.live_line import LineModel
from simulators.opcua_server import PlantServer
from simulators.realtime import run_paced
from twin.config import TwinConfig
from twin.main import create_app
from twin.server import serve_http

KEYS = {"FT_BENCH_ENGINEER": "bench-engineer-key-0001", "FT_BENCH_APPROVER": "bench-approver-key-0002"}
STUDY = {"hours": 8, "replications": 3, "seed": 1,
         "variants": [{"name": "second cnc-2", "set": {"cnc-2.sim.parallel": 2}}],
         "sweeps": [{"key": "buf-1.capacity", "values": [2]}]}


def _percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p99": round(float(np.percentile(a, 99)), 2),
            "max": round(float(a.max()), 2)}


async def run(jobs: int, workers: int, commands: int, tmp: Path) -> dict[str, Any]:
    plant = load_config(config_path("demo-plant.yaml"), PlantConfig)
    line = plant.lines()[0]
    model = LineModel(line)
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/factory-twin/"
    server = PlantServer([a for a in line.assets() if a.config.sim.interface == "opcua"], endpoint,
                         controls=model.controls())
    cfg = TwinConfig.model_validate({
        "plant": "demo-plant.yaml", "broker": {"port": free_port()}, "database": str(tmp / "twin.db"),
        "auth": {"api_keys": [{"name": "engineer", "role": "engineer", "key_env": "FT_BENCH_ENGINEER"},
                              {"name": "approver", "role": "engineer", "key_env": "FT_BENCH_APPROVER"}]},
        "rate_limits": {"expensive": "100000/minute"},
        "jobs": {"workers": workers, "max_pending_per_caller": jobs, "max_pending": jobs},
        "control": {"endpoint": endpoint, "commands": [
            {"name": "reduce_speed", "assets": ["*/cnc-*"], "kind": "write", "browse_name": "speed_override",
             "value": "double", "min": 50, "max": 100}]}})
    app = create_app(cfg, plant, env={**os.environ, **KEYS}, planner=plan_job)
    port = free_port()
    stop, ready = asyncio.Event(), asyncio.Event()
    await server.start(model.snapshot())

    async def publish(samples: list[Any]) -> None:
        await server.publish(samples)

    tasks = [asyncio.create_task(run_paced([model], publish, stop)),
             asyncio.create_task(serve_http(app, "127.0.0.1", port, stop, ready))]
    await ready.wait()
    url = f"http://127.0.0.1:{port}"
    try:
        engineer = {"Authorization": f"Bearer {KEYS['FT_BENCH_ENGINEER']}"}
        async with httpx.AsyncClient(base_url=url, timeout=60, headers=engineer) as c:
            result = await _jobs(c, jobs, workers)
            result |= await _commands(c, commands)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await server.stop()
    return result


async def _jobs(c: httpx.AsyncClient, n: int, workers: int) -> dict[str, Any]:
    start = time.perf_counter()
    submitted: dict[str, float] = {}
    for _ in range(n):
        r = await c.post("/api/jobs", json={"scenario": STUDY})
        r.raise_for_status()
        submitted[r.json()["id"]] = time.perf_counter()
    finished: dict[str, float] = {}
    replications = 0
    while len(finished) < n:
        for job in (await c.get("/api/jobs", params={"limit": n})).json():
            if job["id"] not in finished and job["state"] in ("done", "failed", "cancelled"):
                if job["state"] != "done":
                    raise RuntimeError(f"job {job['id']} {job['state']}: {job['error']}")
                finished[job["id"]] = time.perf_counter()
                replications += job["progress"]["done"]
        await asyncio.sleep(0.02)
    wall = time.perf_counter() - start
    return {"jobs": n, "job_workers": workers, "replications_per_job": replications // n,
            "jobs_wall_s": round(wall, 2), "jobs_per_s": round(n / wall, 2),
            "replications_per_s": round(replications / wall, 1),
            "job_latency_s": _percentiles([finished[j] - submitted[j] for j in submitted])}


async def _commands(c: httpx.AsyncClient, n: int) -> dict[str, Any]:
    asset = "acme/plant1/machining/line1/milling/cnc-2"
    approver = {"Authorization": f"Bearer {KEYS['FT_BENCH_APPROVER']}"}
    round_trip, to_ack, requested = [], [], []
    for i in range(n):
        t = time.perf_counter()
        r = await c.post("/api/commands", json={"asset": asset, "command": "reduce_speed", "value": 60 + i % 2 * 10,
                                                "reason": "bench"})
        requested.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        t = time.perf_counter()
        done = await c.post(f"/api/commands/{r.json()['id']}/approve", json={"comment": "bench"}, headers=approver)
        round_trip.append((time.perf_counter() - t) * 1000)
        body = done.json()
        if body["state"] != "executed":
            raise RuntimeError(f"command {body['id']} {body['state']}: {body['status']} {body['result']}")
        to_ack.append(body["latency_ms"])
    return {"commands": n, "request_http_ms": _percentiles(requested), "approve_http_ms": _percentiles(round_trip),
            "approve_to_opcua_ack_ms": _percentiles(to_ack)}
