"""`factory-twin bench ingest`: source -> agent (spool) -> TSDB, end to end, counted in the TSDB.

Everything runs in its own process on loopback: the broker or the OPC-UA server with its load, the agent
(`factory-twin edge run`), and VictoriaMetrics as the InfluxDB-compatible TSDB (influxdb-client's
/api/v2/write). The agent's CPU time and memory are read from /proc while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from factory_twin.runtime import free_port
from factory_twin.servers import Mosquitto, VictoriaMetrics, wait_for

TICK = os.sysconf("SC_CLK_TCK")


class ProcWatch:
    """CPU seconds and resident memory of one process, sampled once a second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss_mb = [self._rss()]

    def _rss(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def sample(self) -> None:
        self.rss_mb.append(self._rss())

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK


def _agent_yaml(tmp: Path, vm: str, health: int, source: str) -> Path:
    path = tmp / "agent.yaml"
    path.write_text(f"""
name: bench
data_dir: {tmp / "agent"}
batch_size: 5000
health: {{port: {health}, telemetry_interval_s: 0}}
sources:
{source}
sinks:
  - type: historian
    name: tsdb
    influxdb: {{url: "{vm}", database: bench, bucket: bench}}
""")
    return path


def _health(port: int) -> dict[str, Any]:
    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()


def _run(tmp: Path, source_yaml: str, produced_of: Callable[[], int | None], metric: str,
         start_load: Callable[[], None], seconds: float) -> dict[str, Any]:
    vm = VictoriaMetrics(tmp / "vm").start()
    hp = free_port()
    agent = subprocess.Popen([sys.executable, "-m", "factory_twin", "edge", "run",
                              str(_agent_yaml(tmp, vm.url, hp, source_yaml)), "--log-level", "error"],
                             stdout=subprocess.DEVNULL, stderr=(tmp / "agent.err").open("wb"))
    try:
        wait_for(lambda: all(s["connected"] for s in _health(hp)["sources"].values()), 60, "the agent to connect")
        watch = ProcWatch(agent.pid)
        cpu0, t0 = watch.cpu_s(), time.monotonic()
        start_load()
        produced: int | None = None
        while produced is None or _health(hp)["sinks"]["tsdb"]["written"] < produced:
            time.sleep(1.0)
            watch.sample()
            if produced is None:
                produced = produced_of()
            if time.monotonic() - t0 > seconds + 180:
                break
        elapsed = time.monotonic() - t0
        cpu = watch.cpu_s() - cpu0
        snap = _health(hp)
        assert produced is not None
        with contextlib.suppress(TimeoutError):  # the TSDB makes what it took searchable within a second or so
            wait_for(lambda: vm.count(metric) >= produced, 30, "the TSDB to show every sample")
        stored = vm.count(metric)
        return {"produced": produced, "stored": stored, "loss": produced - stored, "seconds": round(elapsed, 2),
                "samples_per_s": round(stored / elapsed, 1), "agent_cpu_s": round(cpu, 2),
                "agent_cpu_share": round(cpu / elapsed, 2), "rss_mb": round(max(watch.rss_mb), 1),
                "rss_start_mb": round(watch.rss_mb[0], 1), "rss_end_mb": round(watch.rss_mb[-1], 1),
                "spool_dropped": snap["sinks"]["tsdb"]["dropped"], "sink_errors": snap["sinks"]["tsdb"]["errors"]}
    finally:
        agent.terminate()
        agent.wait(30)
        vm.stop()


def ingest_mqtt(seconds: float, rate: float, fields: int = 10, devices: int = 20) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as t:
        tmp = Path(t)
        broker = Mosquitto(tmp / "mqtt").start()
        source = f"""  - type: mqtt
    name: load
    broker: {{port: {broker.port}}}
    qos: 1
    clean_session: false
    subscriptions:
      - topic: bench/{{serial}}/data
        asset: bench/site/area/line/cell/{{serial}}
        timestamp: ts
        fields: {{{", ".join(f"f{k}: {{path: f{k}}}" for k in range(fields))}}}"""
        load: list[subprocess.Popen[str]] = []

        def start() -> None:
            load.append(subprocess.Popen(
                [sys.executable, "-m", "factory_twin.loadgen", "mqtt", "--port", str(broker.port), "--seconds",
                 str(seconds), "--rate", str(rate), "--fields", str(fields), "--devices", str(devices)],
                stdout=subprocess.PIPE, text=True))

        def produced() -> int | None:
            if load[0].poll() is None:
                return None
            out, _ = load[0].communicate()
            return int(orjson.loads(out.strip().splitlines()[-1])["samples"])

        try:
            result = _run(tmp, source, produced, '{__name__=~"f[0-9]+_value"}', start, seconds)
        finally:
            broker.stop()
        return {"source": "mqtt", "offered_per_s": rate * fields} | result


def server_alone(endpoint: str, seconds: float) -> float:
    """Changes per second that a bare asyncua client receives from the server, with nothing else running."""
    async def main() -> int:
        from asyncua import Client

        received = 0

        class Handler:
            def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
                nonlocal received
                received += 1

        async with Client(endpoint) as client:
            ns = await client.get_namespace_index("urn:factory-twin:bench")
            path = [f"{ns}:{n}" for n in ("bench", "site", "area", "line", "cell")]
            cell = await client.nodes.objects.get_child(path)
            variables = [v for obj in await cell.get_children() for v in await obj.get_children()]
            sub = await client.create_subscription(100, Handler())
            await sub.subscribe_data_change(variables, queuesize=1000)
            await asyncio.sleep(1.0)  # initial values
            base = received
            await asyncio.sleep(seconds)  # measuring a rate over a fixed window
            return received - base

    return asyncio.run(main()) / seconds


def ingest_opcua(seconds: float, variables: int) -> dict[str, Any]:
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # the bare client's notes on an unsecured endpoint
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as t:
        tmp = Path(t)
        port = free_port()
        endpoint = f"opc.tcp://127.0.0.1:{port}/bench/"

        def server() -> subprocess.Popen[str]:
            p = subprocess.Popen([sys.executable, "-m", "factory_twin.loadgen", "opcua", "--port", str(port),
                                  "--variables", str(variables), "--seconds", str(seconds)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
            return p

        alone = server()
        try:
            assert alone.stdin is not None
            alone.stdin.write("go\n")
            alone.stdin.flush()
            alone_rate = server_alone(endpoint, seconds)
        finally:
            alone.kill()
            alone.wait()
        srv = server()
        source = f"""  - type: opcua
    name: load
    endpoint: "{endpoint}"
    root: bench
    publishing_interval_ms: 100
    queue_size: 1000"""

        done: list[int] = []

        def start() -> None:
            assert srv.stdin is not None and srv.stdout is not None
            srv.stdin.write("go\n")
            srv.stdin.flush()
            out = srv.stdout
            # produced: every change, and the initial value of each variable the subscription reports first
            threading.Thread(target=lambda: done.append(int(orjson.loads(out.readline())["changes"]) + variables),
                             daemon=True).start()

        try:
            result = _run(tmp, source, lambda: done[0] if done else None, '{__name__=~"v[0-9]+_value"}', start,
                          seconds)
        finally:
            srv.kill()
            srv.wait()
        per_s = result["stored"] / seconds  # the server changes values for `seconds`
        return {"source": "opcua", "variables": variables, "server_alone_per_s": round(alone_rate, 1),
                "ratio": round(per_s / alone_rate, 3) if alone_rate else None} | result
