"""`factory-twin bench reconnect`: how soon every MQTT client is back after the broker was away, and what was lost.

mosquitto on loopback (persistent sessions), an edge agent (an MQTT source in a persistent QoS 1 session, a
historian sink and a unified-namespace sink) and a twin service, each in its own process, and two devices in this
one publishing a numbered message every 100 ms, one at QoS 0 and one at QoS 1. The broker is stopped (SIGTERM)
for `outage_s`, then started again. Reported per client: seconds from the broker listening again to the client
connected (polled every 50 ms through the agent's /health and the twin's /api/health); seconds until the
agent's health is ok again; per device, the messages that never reached the historian, counted from it.

Run twice, like for like: with the clients' reconnect backoff as configured (`reconnect_min_s` 0.2 s doubling to
`reconnect_max_s` 2 s) and with the backoff the clients had before (1 s doubling to 30 s).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.servers import Mosquitto, wait_for
from factory_twin.runtime import config_path, free_port
from historian import SqliteHistorian
from plantmodel import mqtt

BACKOFFS = {"now": (0.2, 2.0), "before": (1.0, 30.0)}  # reconnect_min_s, reconnect_max_s
PERIOD_S = 0.1


class Device(threading.Thread):
    """Publishes {"ts", "n"} every PERIOD_S at its QoS until stopped, connected or not (a sensor does not wait):
    at QoS 0 its client drops what it cannot send, at QoS 1 it keeps it and sends it after reconnecting."""

    def __init__(self, broker: mqtt.BrokerConfig, serial: str, qos: int) -> None:
        super().__init__(daemon=True)
        self.broker, self.serial, self.qos = broker, serial, qos
        self.sent = 0  # messages made
        self.stop = threading.Event()

    def run(self) -> None:
        client = mqtt.make_client(self.broker, mqtt.unique_client_id(f"bench-{self.serial}"))
        mqtt.start(client, self.broker)
        n = 0
        while not self.stop.wait(PERIOD_S):
            client.publish(f"bench/{self.serial}/data", orjson.dumps({"ts": int(time.time() * 1000), "n": n}),
                           qos=self.qos)
            n += 1
            self.sent = n
        time.sleep(1.0)  # QoS 1 messages queued while away go out now
        mqtt.stop(client)


def _agent_yaml(workdir: Path, broker: dict[str, Any], health_port: int) -> Path:
    path = workdir / "agent.yaml"
    path.write_text(orjson.dumps({
        "name": "reconnect-bench", "data_dir": str(workdir / "agent"), "health": {"port": health_port},
        "sources": [{"type": "mqtt", "name": "devices", "broker": broker, "qos": 1, "clean_session": False,
                     "subscriptions": [{"topic": "bench/{serial}/data", "asset": "bench/plant/area/line/cell/{serial}",
                                        "timestamp": "ts", "fields": {"n": {"path": "n"}}}]}],
        "sinks": [{"type": "historian", "name": "history", "path": str(workdir / "history.db")},
                  {"type": "uns", "name": "uns", "broker": broker}]}).decode())  # JSON is YAML
    return path


def _twin_yaml(workdir: Path, broker: dict[str, Any], port: int) -> Path:
    path = workdir / "twin.yaml"
    path.write_text(orjson.dumps({
        "plant": str(config_path("demo-plant.yaml").resolve()), "broker": broker, "port": port,
        "database": str(workdir / "twin.db"), "feed_silence_s": 0,
        "auth": {"api_keys": [{"name": "bench", "role": "viewer", "key_env": "FT_BENCH_KEY"}]}}).decode())
    return path


def _first(conditions: dict[str, Callable[[], bool]], timeout_s: float) -> dict[str, float | None]:
    """Seconds until each condition first holds (polled every 50 ms); None if it never did."""
    t0, out = time.monotonic(), dict.fromkeys(conditions)
    while time.monotonic() - t0 < timeout_s and any(v is None for v in out.values()):
        for name, cond in conditions.items():
            if out[name] is None:
                try:
                    if cond():
                        out[name] = round(time.monotonic() - t0, 2)
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
        time.sleep(0.05)
    return out


def _one(workdir: Path, outage_s: float, backoff: tuple[float, float]) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    broker = Mosquitto(workdir / "mosquitto")
    broker.start()
    cfg = {"port": broker.port, "reconnect_min_s": backoff[0], "reconnect_max_s": backoff[1]}
    health_port, twin_port, key = free_port(), free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "FT_BENCH_KEY": key}
    procs = []
    for name, args in (("agent", ["edge", "run", str(_agent_yaml(workdir, cfg, health_port))]),
                       ("twin", ["twin", "serve", str(_twin_yaml(workdir, cfg, twin_port))])):
        with (workdir / f"{name}.log").open("wb") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "factory_twin", *args, "--log-level", "error"],
                                          stdout=log, stderr=subprocess.STDOUT, env=env))
    agent = f"http://127.0.0.1:{health_port}/health"
    twin = f"http://127.0.0.1:{twin_port}/api/health"

    def agent_health() -> dict[str, Any]:
        return httpx.get(agent, timeout=1).json()

    def twin_connected() -> bool:
        return bool(httpx.get(twin, headers={"Authorization": f"Bearer {key}"}, timeout=1).json()["broker_connected"])

    devices = [Device(mqtt.BrokerConfig(**cfg), "qos0", 0), Device(mqtt.BrokerConfig(**cfg), "qos1", 1)]
    try:
        wait_for(lambda: agent_health()["status"] == "ok" and twin_connected(), 60, "agent and twin to connect")
        for d in devices:
            d.start()
        time.sleep(3.0)
        broker.stop()
        time.sleep(outage_s)
        broker.start()
        back = _first({"agent_source": lambda: agent_health()["sources"]["devices"]["connected"],
                       "agent_uns_sink": lambda: not agent_health()["sinks"]["uns"]["failing"],
                       "twin": twin_connected, "agent_health_ok": lambda: agent_health()["status"] == "ok"},
                      max(60.0, 2 * backoff[1] + 10))
        time.sleep(3.0)
        for d in devices:
            d.stop.set()
            d.join(10)
        stored = _settled(workdir / "history.db", [d.serial for d in devices])
        return {"reconnected_after_s": back, "messages_made": {d.serial: d.sent for d in devices},
                "lost": {d.serial: d.sent - stored[d.serial] for d in devices},
                "lost_s": {d.serial: round((d.sent - stored[d.serial]) * PERIOD_S, 1) for d in devices}}
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)
        broker.stop()


def _settled(path: Path, serials: list[str], quiet_s: float = 3.0, timeout_s: float = 60.0) -> dict[str, int]:
    """Distinct messages stored per device, once the count has not moved for `quiet_s` (all delivered)."""
    last: dict[str, int] = {}
    since = deadline = time.monotonic()
    deadline += timeout_s
    while time.monotonic() < deadline:
        history = SqliteHistorian(path, readonly=True)
        now = {d: len({s.value for s in history.samples(f"*/{d}", "n")}) for d in serials}
        history.close()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.5)
    return last


def reconnect_bench(workdir: Path, outage_s: float = 20.0) -> dict[str, Any]:
    out: dict[str, Any] = {"outage_s": outage_s}
    for name, backoff in BACKOFFS.items():
        out[f"backoff_{name}"] = {"reconnect_min_s": backoff[0], "reconnect_max_s": backoff[1]} | _one(
            workdir / name, outage_s, backoff)
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    return out
