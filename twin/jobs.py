"""Planning jobs: kept in the twin's database, run one process each by a bounded set of workers.

A job is a row from the moment it is accepted: its request (plant model, study, start state), state,
progress and result. Nothing about it lives only in memory, so a restart finds finished jobs with their
results and puts queued and running ones back in the queue (they run again from the start, with the
inputs captured at submission), unless a job was already started `max_runs` times: then it fails, so a job
that brings the service down cannot do so at every start.

Each job is bounded: its process may use `max_cpu_s` of CPU (a resource limit the kernel enforces), it is
stopped after `max_wall_s`, and each replication may process `max_events_per_run` simulation events; a job
stopped for any of these fails with an error that says which.

Each job runs in a fresh process (forkserver: the simulator's modules are imported once, then forked):
a cancelled job is stopped at once by ending its process, a crash or a leak cannot outlive its job, and
the event loop never runs a simulation. At most ``workers`` processes run at a time.

As with any use of multiprocessing, each job's process also imports the program's main module (a
forkserver child re-runs it as ``__mp_main__``): a program that embeds the twin keeps its work under
``if __name__ == "__main__":`` and its top-level imports light (``factory-twin`` adds about 25 ms per job;
a main module that imports the whole service at top level adds seconds).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import math
import multiprocessing
import signal
import sys
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import orjson

from twin.db import TwinDatabase
from twin.plan_request import Planner

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
PENDING = (QUEUED, RUNNING)
FINISHED = (DONE, FAILED, CANCELLED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS job_jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    owner TEXT NOT NULL,
    line TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    from_live INTEGER NOT NULL,
    scenario TEXT NOT NULL,
    start TEXT,
    request TEXT NOT NULL,
    result TEXT,
    error TEXT,
    runs INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS job_jobs_state ON job_jobs (state, seq);
"""


class JobStore:
    """The job_* tables; used from the event loop only."""

    def __init__(self, db: TwinDatabase, keep: int) -> None:
        self.db, self.keep = db, keep
        db.script(SCHEMA)

    def add(self, owner: str, line: str, scenario: dict[str, Any], start: dict[str, Any] | None,
            request: dict[str, Any], now: float) -> str:
        job_id = uuid.uuid4().hex[:16]
        seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_jobs").fetchone()[0]
        self.db.execute(
            "INSERT INTO job_jobs (id, seq, owner, line, state, created, from_live, scenario, start, request) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, seq, owner, line, QUEUED, now, start is not None, _dumps(scenario),
             _dumps(start) if start is not None else None, _dumps(request)))
        return job_id

    def get(self, job_id: str, *, with_result: bool = True) -> dict[str, Any] | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM job_jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row, with_result) if row else None

    def list(self, *, state: str | None = None, owner: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql, args = f"SELECT {_COLUMNS} FROM job_jobs WHERE 1=1", list[Any]()
        if state:
            sql, args = sql + " AND state = ?", [*args, state]
        if owner:
            sql, args = sql + " AND owner = ?", [*args, owner]
        rows = self.db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [_job(r, with_result=False) for r in rows]

    def pending(self, owner: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM job_jobs WHERE state IN (?, ?)"
        args: tuple[Any, ...] = PENDING
        if owner is not None:
            sql, args = sql + " AND owner = ?", (*args, owner)
        return int(self.db.execute(sql, args).fetchone()[0])

    def request(self, job_id: str) -> dict[str, Any]:
        return _loads(self.db.execute("SELECT request FROM job_jobs WHERE id = ?", (job_id,)).fetchone()[0])

    def state(self, job_id: str) -> str | None:
        row = self.db.execute("SELECT state FROM job_jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def running(self, job_id: str, now: float) -> None:
        self.db.execute("UPDATE job_jobs SET state = ?, started = ?, done = 0, runs = runs + 1 WHERE id = ?",
                        (RUNNING, now, job_id))

    def progress(self, job_id: str, done: int, total: int) -> None:
        self.db.execute("UPDATE job_jobs SET done = ?, total = ? WHERE id = ? AND state = ?",
                        (done, total, job_id, RUNNING))

    def finish(self, job_id: str, state: str, now: float, result: dict[str, Any] | None = None,
               error: str | None = None) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE job_jobs SET state = ?, finished = ?, result = ?, error = ? WHERE id = ? "
                         "AND state IN (?, ?)",
                         (state, now, _dumps(result) if result is not None else None, error, job_id, *PENDING))
            # Keep the newest `keep` finished jobs.
            conn.execute("DELETE FROM job_jobs WHERE state IN (?, ?, ?) AND seq NOT IN (SELECT seq FROM job_jobs "
                         "WHERE state IN (?, ?, ?) ORDER BY seq DESC LIMIT ?)", (*FINISHED, *FINISHED, self.keep))

    def requeue_unfinished(self, max_runs: int, now: float) -> builtins.list[str]:
        """After a restart: running jobs go back to the queue, or fail once started `max_runs` times; returns
        every queued id, oldest first."""
        self.db.execute("UPDATE job_jobs SET state = ?, finished = ?, error = ? WHERE state = ? AND runs >= ?",
                        (FAILED, now, f"interrupted by a restart of the service after {max_runs} starts; not "
                         "started again (a job that stops the service would otherwise do so at every start)",
                         RUNNING, max_runs))
        self.db.execute("UPDATE job_jobs SET state = ?, started = NULL, done = 0 WHERE state = ?", (QUEUED, RUNNING))
        rows = self.db.execute("SELECT id FROM job_jobs WHERE state = ? ORDER BY seq", (QUEUED,)).fetchall()
        return [r[0] for r in rows]


_COLUMNS = ("id, owner, line, state, created, started, finished, done, total, from_live, scenario, start, result, "
            "error, runs")


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, which a study's variant may carry and orjson refuses
        return json.dumps(value)


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # written by json.dumps for integers beyond 64 bits
        return json.loads(text)


def _job(row: tuple[Any, ...], with_result: bool) -> dict[str, Any]:
    (job_id, owner, line, state, created, started, finished, done, total, from_live, scenario, start, result, error,
     runs) = row
    job: dict[str, Any] = {
        "id": job_id, "owner": owner, "line": line, "state": state, "created": _iso(created), "started": _iso(started),
        "finished": _iso(finished),
        "progress": {"done": done, "total": total, "share": done / total if total else 0.0},
        "from_live": bool(from_live), "error": error, "runs": runs,
    }
    if with_result:
        job["scenario"] = _loads(scenario)
        job["start"] = _loads(start) if start else None
        job["result"] = _loads(result) if result else None
    return job


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat()


def _child(planner: Planner, request: dict[str, Any], conn: Connection) -> None:
    """The worker process: run the study, sending progress, then the result or the error."""
    cpu_s = (request.get("limits") or {}).get("max_cpu_s")
    nice = (request.get("limits") or {}).get("nice")
    if nice and sys.platform != "win32":
        import os

        os.nice(int(nice))
    if cpu_s and sys.platform != "win32":
        import resource

        soft = math.ceil(cpu_s)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 5))  # SIGXCPU at soft, SIGKILL at hard
    try:
        result = planner(request, lambda done, total: conn.send(("progress", done, total)))
        conn.send(("result", result))
    except BaseException as exc:  # reported to the twin, which records it with the job
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _context() -> Any:
    if sys.platform == "linux":
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


class JobRunner:
    """The queue and the bounded workers; `start` and `stop` belong to the app's lifespan."""

    def __init__(self, store: JobStore, planner: Planner | None, workers: int,
                 clock: Callable[[], float] = time.time, max_wall_s: float | None = None, max_runs: int = 2) -> None:
        self.store, self.planner, self.workers, self.clock = store, planner, workers, clock
        self.max_wall_s, self.max_runs = max_wall_s, max_runs
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.processes: dict[str, Any] = {}
        self.cancelled: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []
        self.ctx = _context()
        if self.planner is not None and self.ctx.get_start_method() == "forkserver":
            self.ctx.set_forkserver_preload([self.planner.__module__])

    def start(self) -> None:
        for job_id in self.store.requeue_unfinished(self.max_runs, self.clock()):
            self.queue.put_nowait(job_id)
        if self.planner is not None:
            self.tasks = [asyncio.create_task(self._worker(), name=f"job-worker-{i}") for i in range(self.workers)]

    async def stop(self) -> None:
        """Running jobs' processes end; their rows stay running, so the next start queues them again."""
        for task in self.tasks:
            task.cancel()
        for proc in list(self.processes.values()):
            proc.kill()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit(self, job_id: str) -> None:
        self.queue.put_nowait(job_id)

    def cancel(self, job_id: str) -> bool:
        """Stop a queued or running job; False if it had already finished."""
        state = self.store.state(job_id)
        if state not in PENDING:
            return False
        self.store.finish(job_id, CANCELLED, self.clock())
        proc = self.processes.get(job_id)
        if proc is not None:
            self.cancelled.add(job_id)
            proc.kill()
        return True

    async def _worker(self) -> None:
        while True:
            job_id = await self.queue.get()
            if self.store.state(job_id) != QUEUED:
                continue  # cancelled while it waited
            try:
                await self._run(job_id)
            except Exception as exc:  # a job must never take its worker down
                log.exception("planning job %s failed", job_id)
                self.store.finish(job_id, FAILED, self.clock(), error=f"{type(exc).__name__}: {exc}")

    async def _run(self, job_id: str) -> None:
        assert self.planner is not None
        loop = asyncio.get_running_loop()
        self.store.running(job_id, self.clock())
        receive, send = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=_child, args=(self.planner, self.store.request(job_id), send),
                                name=f"factory-twin job {job_id}", daemon=True)
        proc.start()
        send.close()
        self.processes[job_id] = proc
        outcome: list[Any] = []

        def on_progress(done: int, total: int) -> None:
            self.store.progress(job_id, done, total)

        def read() -> None:
            # In a thread: messages until the result, the error, or the end of the pipe (the process died).
            try:
                while True:
                    message = receive.recv()
                    if message[0] == "progress":
                        loop.call_soon_threadsafe(on_progress, message[1], message[2])
                    else:
                        outcome.append(message)
                        return
            except (EOFError, OSError):
                return
            finally:
                receive.close()

        overdue: list[bool] = []

        def stop_overdue() -> None:
            if proc.is_alive():
                overdue.append(True)
                proc.kill()

        timer = loop.call_later(self.max_wall_s, stop_overdue) if self.max_wall_s else None
        try:
            await asyncio.to_thread(read)
            await asyncio.to_thread(proc.join)
        finally:
            if timer is not None:
                timer.cancel()
            self.processes.pop(job_id, None)
        if job_id in self.cancelled:
            self.cancelled.discard(job_id)
            return
        await asyncio.sleep(0)  # let the last progress callbacks run before the final state is written
        if outcome and outcome[0][0] == "result":
            self.store.finish(job_id, DONE, self.clock(), result=outcome[0][1])
        elif outcome:
            self.store.finish(job_id, FAILED, self.clock(), error=outcome[0][1])
        elif overdue:
            self.store.finish(job_id, FAILED, self.clock(), error=f"stopped after {self.max_wall_s:g} s: longer than "
                              "jobs.max_wall_s allows; ask for fewer hours, replications or variants")
        elif proc.exitcode == -signal.SIGXCPU:
            cpu = (self.store.request(job_id).get("limits") or {}).get("max_cpu_s")
            self.store.finish(job_id, FAILED, self.clock(), error=f"stopped after using {cpu:g} CPU seconds "
                              "(jobs.max_cpu_s); ask for fewer hours, replications or variants")
        else:
            self.store.finish(job_id, FAILED, self.clock(), error=f"worker process ended with code {proc.exitcode}")
