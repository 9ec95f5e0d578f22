"""The agent's own health: per-source connection state, rates, spool depth and age, sink errors, rejections.

Served as JSON (`/health`) and in the Prometheus text format (`/metrics`) on the agent's health port, shown
by `factory-twin edge status`, and published as telemetry of the agent itself (by default under the asset
`factory-twin/edge/agents/<name>/health/agent`, outside any plant's namespace).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from edge_agent.plugins import SourceHealth
from plantmodel.telemetry import Sample

DROPPING_S = 3.0  # drops this recent still make the spool "full" (drop_newest keeps it just under its limit)


class HealthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="HTTP port for /health and /metrics; 0: not served")
    telemetry_interval_s: float = Field(10.0, ge=0, description="publish own metrics this often; 0: never")
    asset: str | None = Field(None, description="ISA-95 path the agent's own metrics are filed under; "
                              "default factory-twin/edge/agents/<name>/health/agent")


@dataclass(frozen=True)
class SinkReading:
    type: str
    written: int
    errors: int
    failing_since: float | None  # loop time of the first failed write of the current run of failures
    last_error: str | None
    spool_depth: int  # records it has not confirmed
    oldest_unsent_age_s: float | None  # None when nothing waits (or when not asked for)
    dropped: int  # records lost to a full spool


@dataclass(frozen=True)
class SpoolReading:
    path: str
    max_records: int
    overflow: str  # drop_oldest or drop_newest
    refused: int
    rejected: int
    commit_error: str | None


@dataclass(frozen=True)
class AgentReadings:
    """The agent at one instant, as its health sees it: counters, sources, sinks, spool, rejections."""

    name: str
    counters: dict[str, int]
    sources: dict[str, SourceHealth]
    sinks: dict[str, SinkReading]
    rejected: dict[str, dict[str, int]]  # source -> reason -> samples quarantined
    spool: SpoolReading


class Observed(Protocol):
    """What the health reads of the agent: typed readings, none of its internals."""

    def readings(self, ages: bool = True) -> AgentReadings:
        """`ages`: also the age of each sink's oldest unsent record (may read the spool's file)."""
        ...


class AgentHealth:
    """Rates over the last minute, from counters sampled once a second."""

    def __init__(self, agent: Observed, asset: str | None = None) -> None:
        self.agent = agent
        self.asset = asset  # where the agent's own metrics are filed (default: under its name)
        self.started = time.monotonic()
        self._history: deque[tuple[float, dict[str, int]]] = deque(maxlen=61)
        self._was_connected: dict[str, bool] = {}
        self.reconnects: dict[str, int] = {}  # connections regained, as seen by the once-a-second tick
        self._dropped: dict[str, tuple[int, float]] = {}  # sink -> (dropped count, when it last grew)

    def tick(self) -> None:
        now = time.monotonic()
        r = self.agent.readings(ages=False)
        self._history.append((now, r.counters))
        for n, sink in r.sinks.items():
            seen = self._dropped.get(n)
            if seen is None:
                self._dropped[n] = (sink.dropped, 0.0)  # drops of earlier runs are history, not news
            elif sink.dropped > seen[0]:
                self._dropped[n] = (sink.dropped, now)
        for name, s in r.sources.items():
            before = self._was_connected.get(name)  # None: never connected yet
            if s.connected and before is False:
                self.reconnects[name] = self.reconnects.get(name, 0) + 1
            if s.connected or before is not None:
                self._was_connected[name] = bool(s.connected)

    def dropping(self, sink: str, recent_s: float = DROPPING_S) -> bool:
        """Records for this sink were dropped within the last `recent_s` (its spool is full)."""
        seen = self._dropped.get(sink)
        return seen is not None and seen[1] > 0 and time.monotonic() - seen[1] < recent_s

    def _rate(self, key: str) -> float:
        if len(self._history) < 2:
            return 0.0
        (t0, a), (t1, b) = self._history[0], self._history[-1]
        return (b.get(key, 0) - a.get(key, 0)) / (t1 - t0) if t1 > t0 else 0.0

    def snapshot(self) -> dict[str, Any]:
        r = self.agent.readings()
        spool = r.spool
        sinks: dict[str, dict[str, Any]] = {
            n: {"type": s.type, "written": s.written, "written_per_s": round(self._rate(f"written:{n}"), 1),
                "errors": s.errors, "failing": s.failing_since is not None, "last_error": s.last_error,
                "spool_depth": s.spool_depth, "oldest_unsent_age_s": s.oldest_unsent_age_s, "dropped": s.dropped}
            for n, s in r.sinks.items()}
        sources: dict[str, dict[str, Any]] = {
            n: {"type": s.type, "connected": s.connected, "reconnects": self.reconnects.get(n, 0),
                "silence_restarts": s.silence_restarts, "last_error": s.last_error, "problems": s.problems,
                # an OPC-UA server certificate refused until trusted (SHA-256, hex)
                "untrusted_certificate": s.untrusted_certificate, "rejected": r.rejected.get(n, {})}
            for n, s in r.sources.items()}
        problems = [f"source {n}: not connected" + (f" ({v['last_error']})" if v["last_error"] else "")
                    for n, v in sources.items() if not v["connected"]]
        problems += [f"source {n}: {p}" for n, v in sources.items() for p in v["problems"]]
        now = asyncio.get_running_loop().time() if _in_loop() else None
        for n, v in sinks.items():
            since = r.sinks[n].failing_since
            if since is not None:
                how_long = f" for {now - since:.0f} s" if now is not None else ""
                problems.append(f"sink {n}: failing{how_long}, retrying: {v['last_error']}")
            if v["spool_depth"] >= spool.max_records or self.dropping(n):  # while it lasts; the count stays
                problems.append(f"sink {n}: its spool is full ({spool.max_records} records, spool.max_records): "
                                f"{'the oldest' if spool.overflow == 'drop_oldest' else 'new'} records are "
                                f"dropped ({v['dropped']} so far) until it catches up")
        if spool.commit_error:
            problems.append(f"spool: commits failing: {spool.commit_error}")
        return {"agent": r.name, "status": "degraded" if problems else "ok", "problems": problems,
                "uptime_s": round(time.monotonic() - self.started, 1),
                "samples_in": r.counters.get("samples_in", 0),
                "samples_in_per_s": round(self._rate("samples_in"), 1),
                "events_derived": r.counters.get("events_derived", 0), "sources": sources, "sinks": sinks,
                "spool": {"path": spool.path, "max_records": spool.max_records, "overflow": spool.overflow,
                          "refused": spool.refused, "rejected": spool.rejected, "commit_error": spool.commit_error}}

    def prometheus(self) -> str:
        snap = self.snapshot()
        agent = snap["agent"]
        lines = [
            "# TYPE factory_twin_agent_samples_in_total counter",
            f'factory_twin_agent_samples_in_total{{agent="{agent}"}} {snap["samples_in"]}',
            "# TYPE factory_twin_agent_source_connected gauge",
            *(f'factory_twin_agent_source_connected{{agent="{agent}",source="{n}"}} {int(s["connected"])}'
              for n, s in snap["sources"].items()),
            "# TYPE factory_twin_agent_source_reconnects_total counter",
            *(f'factory_twin_agent_source_reconnects_total{{agent="{agent}",source="{n}"}} {s["reconnects"]}'
              for n, s in snap["sources"].items()),
            "# TYPE factory_twin_agent_rejected_total counter",
            *(f'factory_twin_agent_rejected_total{{agent="{agent}",source="{n}",reason="{r}"}} {c}'
              for n, s in snap["sources"].items() for r, c in s["rejected"].items()),
        ]
        for metric, key, kind in (("written_total", "written", "counter"), ("errors_total", "errors", "counter"),
                                  ("spool_depth_records", "spool_depth", "gauge"),
                                  ("dropped_total", "dropped", "counter"),
                                  ("oldest_unsent_age_seconds", "oldest_unsent_age_s", "gauge")):
            lines.append(f"# TYPE factory_twin_agent_sink_{metric} {kind}")
            lines += [f'factory_twin_agent_sink_{metric}{{agent="{agent}",sink="{n}"}} {s[key] or 0}'
                      for n, s in snap["sinks"].items()]
        return "\n".join(lines) + "\n"

    def telemetry(self) -> list[Sample]:
        snap = self.snapshot()
        asset = self.asset or f"factory-twin/edge/agents/{snap['agent']}/health/agent"
        now = datetime.now(UTC)
        out = [Sample(asset, "samples_in_per_s", snap["samples_in_per_s"], "1/s", now)]
        for n, s in snap["sinks"].items():
            out += [Sample(asset, f"{n}.spool_depth", s["spool_depth"], "records", now),
                    Sample(asset, f"{n}.dropped", s["dropped"], "records", now),
                    Sample(asset, f"{n}.errors", s["errors"], "", now)]
        out += [Sample(asset, f"{n}.connected", s["connected"], "", now) for n, s in snap["sources"].items()]
        return out


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def health_app(health: AgentHealth) -> FastAPI:
    app = FastAPI(title="factory-twin edge agent", docs_url=None, redoc_url=None)

    # async: they run on the agent's event loop, the single writer of what they read (a sync handler would run
    # in a worker thread and could see the counters change under it)
    @app.get("/health")
    async def get_health() -> dict[str, Any]:
        return health.snapshot()

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> str:
        return health.prometheus()

    return app


async def serve_health(health: AgentHealth, settings: HealthSettings, stop: asyncio.Event) -> None:
    server = uvicorn.Server(uvicorn.Config(health_app(health), log_level="warning", lifespan="off"))
    server.capture_signals = _no_signals  # type: ignore[method-assign, assignment]  # the agent owns SIGINT/SIGTERM
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)  # TCP by name, so asyncio sets TCP_NODELAY on its connections
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        await task


class _NoSignals:
    def __enter__(self) -> None: ...

    def __exit__(self, *_: object) -> None: ...


def _no_signals() -> _NoSignals:
    return _NoSignals()
