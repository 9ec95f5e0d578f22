"""`factory-twin bench twin`: the twin service's live endpoints under load, and its WebSocket fan-out.

Processes on loopback: Debian's mosquitto; the twin (`factory-twin twin serve`) fed at the demo line's rate
(every signal of every asset once a second, from a publisher thread here); and this process as the load
generator. HTTP load is open-loop: requests are sent on a fixed schedule whatever the answers do, and latency
is measured from the scheduled send time, so a stalled server shows up as latency, not as a lower rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from benchmarks.bench_ingest import ProcWatch
from benchmarks.servers import Mosquitto, wait_for
from factory_twin.runtime import config_path, free_port
from plantmodel import mqtt, uns
from plantmodel.catalog import SignalKind
from plantmodel.config import load_config
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import Sample

KEY = "bench-viewer-key"


def _value(asset: Asset, kind: SignalKind, name: str, tick: int) -> Any:
    if kind is SignalKind.STATE:
        return "producing"
    if kind is SignalKind.TEXT:
        return "none"
    if kind is SignalKind.COUNTER:
        return tick
    return round(100 + 10 * math.sin(tick / 7 + len(name)) + random.random(), 3)


class LinePublisher:
    """The demo line's rate: every signal of every asset once a second, spread evenly over the second."""

    def __init__(self, plant: PlantConfig, port: int) -> None:
        self.signals = [(a, s) for a in plant.assets() for s in a.signals]
        self.broker = mqtt.BrokerConfig(port=port)
        self.client = mqtt.make_client(self.broker, "bench-line")
        self.stop = threading.Event()
        self.published = 0
        self.thread = threading.Thread(target=self._run, name="line publisher", daemon=True)

    def start(self) -> LinePublisher:
        mqtt.start(self.client, self.broker)
        wait_for(self.client.is_connected, 10, "the publisher to connect")
        self.thread.start()
        return self

    def _run(self) -> None:
        slices = 20
        per = -(-len(self.signals) // slices)
        tick, t0 = 0, time.monotonic()
        while not self.stop.is_set():
            for k in range(slices):
                now = datetime.now(UTC)
                for asset, spec in self.signals[k * per:(k + 1) * per]:
                    topic, payload = uns.encode(Sample(asset.path, spec.name, _value(asset, spec.kind, spec.name,
                                                                                      tick), spec.unit, now))
                    self.client.publish(topic, payload, qos=0)
                    self.published += 1
                wait = t0 + tick + (k + 1) / slices - time.monotonic()
                if self.stop.wait(max(0.0, wait)):
                    return
            tick += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        mqtt.stop(self.client)

    @property
    def rate(self) -> int:
        return len(self.signals)


async def _http_load(port: int, paths: list[str], rate: float, seconds: float, warmup_s: float = 2.0,
                     connections: int = 32) -> dict[str, Any]:
    """Keep-alive HTTP/1.1 on raw asyncio streams: a Python HTTP client library costs more CPU per request than
    the server under test, and would measure itself. Requests are due on a fixed schedule; each goes out on
    the next free connection, and its latency counts from when it was due."""
    wire = [f"GET {p} HTTP/1.1\r\nHost: twin\r\nAuthorization: Bearer {KEY}\r\n\r\n".encode() for p in paths]
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    first_measured = int(warmup_s * rate)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await due.get()) is not None:
                i, scheduled = item
                writer.write(wire[i % len(wire)])
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                done = time.perf_counter()
                status = head[9:12].decode()
                if status != "200":
                    errors[status] = errors.get(status, 0) + 1
                elif i >= first_measured:
                    latencies.append(done - scheduled)
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    total = int((seconds + warmup_s) * rate)
    t0 = time.perf_counter()
    i = 0
    while i < total:
        now = time.perf_counter()
        while i < total and t0 + i / rate <= now:
            due.put_nowait((i, t0 + i / rate))
            i += 1
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
    for _ in workers:
        due.put_nowait(None)
    results = await asyncio.gather(*workers, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            errors[type(r).__name__] = errors.get(type(r).__name__, 0) + 1
    elapsed = time.perf_counter() - t0 - warmup_s
    lat = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {"offered_per_s": rate, "requests": total - first_measured, "answered_ok": len(latencies),
            "requests_per_s": round(len(latencies) / elapsed, 1), "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p90_ms": round(float(np.percentile(lat, 90)), 2), "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "max_ms": round(float(np.nanmax(lat)), 2), "errors": sum(errors.values()), "error_kinds": errors,
            "connections": connections}


async def _ws_fanout(port: int, clients: int, seconds: float) -> dict[str, Any]:
    import websockets.asyncio.client as ws

    latencies: list[float] = []
    messages = [0] * clients
    closed = [0]

    async def client(k: int, until: float) -> None:
        seen: dict[tuple[str, str], str] = {}
        async with ws.connect(f"ws://127.0.0.1:{port}/api/ws?token={KEY}", max_size=None) as conn:
            while time.time() < until:
                try:
                    raw = await asyncio.wait_for(conn.recv(), max(0.01, until - time.time()))
                except TimeoutError:
                    break
                now = time.time()
                msg = orjson.loads(raw)
                messages[k] += 1
                if msg["type"] != "update":
                    for a in msg["assets"]:
                        for name, s in a["signals"].items():
                            seen[(a["id"], name)] = s["ts"]
                    continue
                for a in msg["assets"]:
                    for name, s in a["signals"].items():
                        if seen.get((a["id"], name)) != s["ts"]:
                            seen[(a["id"], name)] = s["ts"]
                            latencies.append(now - datetime.fromisoformat(s["ts"]).timestamp())
        closed[0] += 1

    until = time.time() + seconds
    results = await asyncio.gather(*(client(k, until) for k in range(clients)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    lat = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {"clients": clients, "clients_failed": len(failures), "messages": sum(messages),
            "messages_per_s": round(sum(messages) / seconds, 1), "values_delivered": len(latencies),
            "values_per_s": round(len(latencies) / seconds, 1),
            "latency_p50_ms": round(float(np.percentile(lat, 50)), 1),
            "latency_p99_ms": round(float(np.percentile(lat, 99)), 1),
            "latency_max_ms": round(float(np.nanmax(lat)), 1),
            "failure_kinds": sorted({type(f).__name__ for f in failures})}


def twin_api(seconds: float = 20.0, rate: float = 1000.0, ws_clients: int = 200, ws_seconds: float = 20.0
             ) -> dict[str, Any]:
    plant_file = config_path("demo-plant.yaml").resolve()
    plant = load_config(plant_file, PlantConfig)
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as t:
        tmp = Path(t)
        broker = Mosquitto(tmp / "mqtt").start()
        port = free_port()
        cfg = tmp / "twin.yaml"
        cfg.write_text(f"plant: {plant_file}\nbroker: {{port: {broker.port}}}\nport: {port}\n"
                       f"database: {tmp / 'twin.db'}\n"
                       "auth: {api_keys: [{name: bench, role: viewer, key_env: FT_BENCH_KEY}]}\n")
        twin = subprocess.Popen([sys.executable, "-m", "factory_twin", "twin", "serve", str(cfg), "--log-level",
                                 "error"], env=os.environ | {"FT_BENCH_KEY": KEY}, stdout=subprocess.DEVNULL,
                                stderr=(tmp / "twin.err").open("wb"))
        line = LinePublisher(plant, broker.port)
        url = f"http://127.0.0.1:{port}"
        try:
            line.start()

            def all_live() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    assets = httpx.get(f"{url}/api/assets", headers={"Authorization": f"Bearer {KEY}"}).json()
                    return len(assets) == len(plant.assets()) and all(a["signals"] for a in assets)
                return False

            wait_for(all_live, 60, "the twin to show every asset")
            ids = [a.path for a in plant.assets()]
            paths = ["/api/assets"] + [f"/api/assets/{i}" for i in ids]
            watch = ProcWatch(twin.pid)
            cpu0, t0 = watch.cpu_s(), time.monotonic()
            http = asyncio.run(_http_load(port, paths, rate, seconds))
            watch.sample()
            http["twin_cpu_share"] = round((watch.cpu_s() - cpu0) / (time.monotonic() - t0), 2)
            cpu0, t0 = watch.cpu_s(), time.monotonic()
            fanout = asyncio.run(_ws_fanout(port, ws_clients, ws_seconds))
            watch.sample()
            fanout["twin_cpu_share"] = round((watch.cpu_s() - cpu0) / (time.monotonic() - t0), 2)
            fanout["line_values_per_s"] = line.rate
            return {"requests_per_s": http["requests_per_s"], "p99_ms": http["p99_ms"],
                    "target_met": http["p99_ms"] < 50 and http["requests_per_s"] >= 0.99 * rate,
                    "ws_clients": ws_clients, "ws_latency_p99_ms": fanout["latency_p99_ms"],
                    "http": http, "websocket": fanout, "twin_rss_mb": round(max(watch.rss_mb), 1),
                    "endpoints": "GET /api/assets (all 11) and GET /api/assets/{id}, round robin"}
        finally:
            line.close()
            twin.terminate()
            twin.wait(30)
            broker.stop()
