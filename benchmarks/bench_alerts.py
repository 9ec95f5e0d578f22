"""The alert engine's cost per sample, per persisted transition, and notification latency on loopback.

Samples: the demo line's CNC and robot signals through the demo config's rules (thresholds, tool-life RUL,
machine alarms), on the twin's SQLite file. Latency: from the engine handing a notification over to the
receiver having it, by webhook to an HTTP server on loopback and by MQTT through mosquitto (when installed).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.servers import Mosquitto
from factory_twin.runtime import config_path
from plantmodel import mqtt
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Sample
from twin.alerting import AlertEngine, AlertsConfig, ManualClock, Notifier
from twin.config import TwinConfig
from twin.db import TwinDatabase

T0 = datetime(2026, 7, 1, 8, tzinfo=UTC)


def _samples(plant: PlantConfig, n: int, seed: int) -> list[Sample]:
    """Healthy signals of every CNC and robot, one second apart per asset, a few over their limits."""
    rng = np.random.default_rng(seed)
    cncs = [a.path for a in plant.assets() if a.type == "cnc_machine"]
    robots = [a.path for a in plant.assets() if a.type == "industrial_robot"]
    out: list[Sample] = []
    i = 0
    while len(out) < n:
        ts = T0 + timedelta(seconds=i)
        for path in cncs:
            hot = 55.0 if (i // 90) % 4 == 3 else 46.0  # a 90-s hot spell every 6 minutes
            out += [Sample(path, "spindle_temperature", hot + rng.normal(0, 0.3), "°C", ts),
                    Sample(path, "spindle_load", 50 + rng.normal(0, 2), "%", ts),
                    Sample(path, "tool_wear", (i * 0.02) % 100, "%", ts),
                    Sample(path, "alarm_code", "E101" if i % 300 == 150 else "none", "", ts)]
        for path in robots:
            out.append(Sample(path, "gripper_pressure", 6.0 + rng.normal(0, 0.04), "bar", ts))
        i += 1
    return out[:n]


def engine_cost(samples: int, workdir: Path, seed: int = 1) -> dict[str, Any]:
    plant = load_config(config_path("demo-plant.yaml"), PlantConfig)
    twin_cfg = load_config(config_path("twin-demo.yaml"), TwinConfig, {"FT_DATA_DIR": str(workdir)})
    db = TwinDatabase(workdir / "bench-alerts.db")
    clock = ManualClock(T0)
    engine = AlertEngine(twin_cfg.alerts, plant, db, clock)
    data = _samples(plant, samples, seed)
    start = time.perf_counter()
    for s in data:
        engine.observe(s)
    elapsed = time.perf_counter() - start
    transitions = sum(engine.transitions_total.values())

    # persisted transitions alone: ack and re-raise one alert over and over
    cfg = AlertsConfig.model_validate({"rules": [{"id": "hot", "type": "threshold", "assets": ["*/cnc-1"],
                                                  "signal": "spindle_temperature", "high": 50}]})
    cnc = next(a.path for a in plant.assets() if a.path.endswith("/cnc-1"))
    alone = AlertEngine(cfg, plant, db, clock)
    rounds = 2000
    t = time.perf_counter()
    for k in range(rounds):
        ts = T0 + timedelta(seconds=k)
        alone.observe(Sample(cnc, "spindle_temperature", 60.0 if k % 2 == 0 else 40.0, "°C", ts))
    per_transition = (time.perf_counter() - t) / rounds
    db.close()
    return {"samples": samples, "seconds": round(elapsed, 3), "us_per_sample": round(elapsed / samples * 1e6, 2),
            "samples_per_s": round(samples / elapsed), "transitions": transitions,
            "us_per_persisted_transition": round(per_transition * 1e6, 1)}


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.arrived: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.arrived.append(time.monotonic())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def _percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return {"p50_ms": round(statistics.median(ms), 2), "p99_ms": round(q[98], 2), "max_ms": round(max(ms), 2)}


async def _deliver(notifier: Notifier, engine: AlertEngine, plant: PlantConfig, n: int, arrived: list[float],
                   gap_s: float) -> list[float]:
    """Raise `n` alerts one by one (each waits for the last delivery): submit-to-arrival times in ms."""
    cnc = next(a.path for a in plant.assets() if a.path.endswith("/cnc-1"))
    await notifier.start()
    deadline = time.monotonic() + 10
    while not all(lane.channel.connected() for lane in notifier.lanes):
        if time.monotonic() > deadline:
            raise TimeoutError("a notification target did not connect within 10 s")
        await asyncio.sleep(0.01)
    latencies = []
    try:
        for k in range(n):
            before = len(arrived)
            ts = T0 + timedelta(seconds=2 * k)
            engine.observe(Sample(cnc, "spindle_temperature", 40.0, "°C", ts))  # clear, then raise: one notice
            sent = time.monotonic()
            engine.observe(Sample(cnc, "spindle_temperature", 60.0, "°C", ts + timedelta(seconds=1)))
            deadline = sent + 10
            while len(arrived) == before:
                if time.monotonic() > deadline:
                    raise TimeoutError("a notification did not arrive within 10 s")
                await asyncio.sleep(0.0005)
            latencies.append((arrived[before] - sent) * 1000)
            await asyncio.sleep(gap_s)
    finally:
        await notifier.stop()
    return latencies


def notification_latency(n: int, workdir: Path) -> dict[str, Any]:
    plant = load_config(config_path("demo-plant.yaml"), PlantConfig)
    rule = {"id": "hot", "type": "threshold", "assets": ["*/cnc-1"], "signal": "spindle_temperature", "high": 50}
    flood = {"window_s": 1, "max_notifications": 100_000}
    out: dict[str, Any] = {}
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/alerts"
        cfg = AlertsConfig.model_validate({"rules": [rule], "flood": flood,
                                           "notify": [{"name": "hook", "type": "webhook", "url": url}]})
        notifier = Notifier(cfg.notify, cfg.retry, cfg.queue, mqtt.BrokerConfig(), "bench-alerts")
        engine = AlertEngine(cfg, plant, TwinDatabase(":memory:"), ManualClock(T0), notifier)
        out["webhook"] = _percentiles(asyncio.run(_deliver(notifier, engine, plant, n, receiver.arrived, 0.001)))
    finally:
        receiver.shutdown()
        receiver.server_close()
    try:
        broker = Mosquitto(workdir / "mosquitto")
    except RuntimeError as exc:
        out["mqtt"] = {"skipped": str(exc)}
        return out
    (workdir / "mosquitto").mkdir(exist_ok=True)
    broker.start()
    arrived: list[float] = []
    sub = mqtt.make_client(mqtt.BrokerConfig(port=broker.port), "bench-alerts-sub")
    sub.on_connect = lambda c, *_: c.subscribe("bench/alerts/#", qos=1)
    sub.on_message = lambda *_: arrived.append(time.monotonic())
    cfg_b = mqtt.BrokerConfig(port=broker.port)
    try:
        mqtt.start(sub, cfg_b)
        deadline = time.monotonic() + 10
        while not sub.is_connected():
            if time.monotonic() > deadline:
                raise TimeoutError("the subscriber did not connect to mosquitto")
            time.sleep(0.01)
        cfg = AlertsConfig.model_validate({"rules": [rule], "flood": flood, "notify": [
            {"name": "andon", "type": "mqtt", "broker": json.loads(cfg_b.model_dump_json()),
             "topic": "bench/alerts/{severity}/{asset}"}]})
        notifier = Notifier(cfg.notify, cfg.retry, cfg.queue, cfg_b, "bench-alerts")

        async def connected() -> list[float]:
            engine = AlertEngine(cfg, plant, TwinDatabase(":memory:"), ManualClock(T0), notifier)
            return await _deliver(notifier, engine, plant, n, arrived, 0.001)

        out["mqtt"] = _percentiles(asyncio.run(connected()))
    finally:
        mqtt.stop(sub)
        broker.stop()
    return out


def run(samples: int, notifications: int, workdir: Path) -> dict[str, Any]:
    latency = notification_latency(notifications, workdir)
    return {"engine": engine_cost(samples, workdir), "webhook_latency": latency["webhook"],
            "mqtt_latency": latency["mqtt"], "notifications": notifications}
