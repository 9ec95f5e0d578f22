"""`factory-twin bench ingest`: source -> ingester -> TSDB, end to end, counted in the TSDB as sets.

Everything runs in its own process on loopback: mosquitto with its default limits (20 messages in flight and
1,000 queued per client) and a load generator, or an OPC-UA server that keeps its variables changing; the
ingester (the agent, `factory-twin edge run`, or anything else started as a process, such as another
product measured with the same harness); and VictoriaMetrics, with deduplication off, written through
`/api/v2/write`. What the TSDB holds is exported and compared, as (series, time, value), with what the load
produced: missing, extra and duplicated samples are each counted. The ingester's CPU time and memory are read
from /proc from the start of the load until the TSDB holds everything (or stops growing).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.delivery import delivery
from benchmarks.loadgen import FIELDS_PER_OBJECT, MqttShape
from benchmarks.provenance import load
from benchmarks.servers import Mosquitto, VictoriaMetrics, wait_for
from factory_twin.runtime import free_port

TICK = os.sysconf("SC_CLK_TCK")
SETTLE_S = 10.0  # the TSDB's count unchanged this long after the load: the ingester has given all it will


class ProcWatch:
    """CPU seconds and resident memory of processes and their children, summed, sampled once a second."""

    def __init__(self, *pids: int) -> None:
        self.roots = pids
        self.rss_mb = [self._rss()]

    @property
    def pid(self) -> int:
        return self.roots[0]

    def _pids(self) -> list[int]:
        out = list(self.roots)
        for pid in self.roots:
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    children = (task / "children").read_text().split()
                    out.extend(int(c) for c in children)
        return out

    def _rss(self) -> float:
        total = 0.0
        for pid in self._pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
        return total

    def sample(self) -> None:
        self.rss_mb.append(self._rss())

    def cpu_s(self) -> float:
        total = 0.0
        for pid in self._pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / TICK
        return total


@dataclass
class Ingester:
    """What reads the source and writes the TSDB: started as a process, ready once it listens."""

    name: str
    start: Callable[[Path, dict[str, Any]], list[subprocess.Popen[bytes]]]  # (workdir, endpoints) -> processes
    ready: Callable[[], bool]


def _agent_yaml(tmp: Path, vm: str, health: int, source: str, k: int = 0) -> Path:
    path = tmp / f"agent{k}.yaml"
    path.write_text(f"""
name: bench
data_dir: {tmp / f"agent{k}"}
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


def agent(source_yaml: Callable[[dict[str, Any]], str], count: int = 1) -> Ingester:
    """`count` edge agents, each with its own spool and the one source given by `source_yaml(endpoints)`,
    writing to the TSDB."""
    ports = [free_port() for _ in range(count)]

    def start(tmp: Path, endpoints: dict[str, Any]) -> list[subprocess.Popen[bytes]]:
        procs = []
        for k, hp in enumerate(ports):
            cfg = _agent_yaml(tmp, endpoints["tsdb"], hp, source_yaml(endpoints), k)
            procs.append(subprocess.Popen([sys.executable, "-m", "factory_twin", "edge", "run", str(cfg),
                                           "--log-level", "error"], stdout=subprocess.DEVNULL,
                                          stderr=(tmp / f"agent{k}.err").open("wb")))
        return procs

    def ready() -> bool:
        return all(s["connected"] for hp in ports
                   for s in httpx.get(f"http://127.0.0.1:{hp}/health", timeout=5).json()["sources"].values())

    return Ingester("agent" if count == 1 else f"{count} agents", start, ready)


def mqtt_source(fields: int, qos: int, protocol: str, share_group: str | None = None
                ) -> Callable[[dict[str, Any]], str]:
    """The agent's source for `MqttShape`: one subscription per signal for one value per message (the signal is
    the topic's last level), one with every field otherwise; agents of a `share_group` split the messages."""
    def yaml(endpoints: dict[str, Any]) -> str:
        head = f"""  - type: mqtt
    name: load
    broker: {{port: {endpoints["mqtt_port"]}, protocol: "{protocol}"}}
    qos: {qos}
    clean_session: false{f"{chr(10)}    share_group: {share_group}" if share_group else ""}
    subscriptions:"""
        if fields == 1:
            subs = "".join(f"""
      - topic: plant/line1/{{machine}}/s{j}
        asset: bench/plant1/area/line1/cell/{{machine}}
        timestamp: ts
        fields: {{s{j}: {{path: value}}}}""" for j in range(10))
        else:
            subs = f"""
      - topic: bench/{{serial}}/data
        asset: bench/site/area/line/cell/{{serial}}
        timestamp: ts
        fields: {{{", ".join(f"f{k}: {{path: f{k}}}" for k in range(fields))}}}"""
        return head + subs
    return yaml


def _series(shape: MqttShape, metric: dict[str, str]) -> str:
    """The load's series name of a TSDB series: measurement `<signal>` with the field `value` (so `<signal>_value`
    in VictoriaMetrics) and the machine or device in the tag `asset`."""
    signal = metric["__name__"].removesuffix("_value")
    if shape.fields == 1:
        return f"plant/line1/{metric['asset']}/{signal}/value"
    return f"bench/{metric['asset']}/data/{signal}"


def _stored(vm: VictoriaMetrics, match: str, series: Callable[[dict[str, str]], Any]) -> Iterator[tuple[Any, ...]]:
    for metric, values, timestamps in vm.export(match):
        name = series(metric)
        for v, ts in zip(values, timestamps, strict=True):
            yield name, ts, float(v)


def _until_settled(vm: VictoriaMetrics, match: str, expected: int, watch: ProcWatch, limit_s: float) -> int:
    """Wait until the TSDB holds `expected` samples, or its count stopped growing for SETTLE_S; the count."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + limit_s
    while True:
        n = vm.series_count(match)
        watch.sample()
        if n >= expected or time.monotonic() > deadline:
            return n
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > SETTLE_S:
            return n
        time.sleep(0.5)


def ingest_mqtt(seconds: float, rate: float, fields: int = 10, topics: int = 20, qos: int = 1,
                protocol: str = "5", ingester: Ingester | None = None, workdir: Path | None = None,
                agents: int = 1) -> dict[str, Any]:
    """MQTT: `rate` messages/s of `fields` values on `topics` topics into the ingester (the agent by default;
    `agents` > 1: that many agent processes in one MQTT 5 shared subscription)."""
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as t:
        tmp = workdir or Path(t)
        vm = VictoriaMetrics(tmp / "vm").start()
        broker = Mosquitto(tmp / "mqtt", defaults=True).start()
        ing = ingester or agent(mqtt_source(fields, qos, protocol, "ingest" if agents > 1 else None), agents)
        procs = ing.start(tmp, {"mqtt_port": broker.port, "tsdb": vm.url})
        match = '{__name__=~"s[0-9]_value"}' if fields == 1 else '{__name__=~"f[0-9]+_value"}'
        try:
            wait_for(ing.ready, 90, f"{ing.name} to connect")
            time.sleep(2.0)  # subscribed and settled
            watch = ProcWatch(*(p.pid for p in procs))
            load_before = load()
            cpu0, t0 = watch.cpu_s(), time.monotonic()
            gen = subprocess.Popen([sys.executable, "-m", "benchmarks.loadgen", "mqtt", "--port", str(broker.port),
                                    "--seconds", str(seconds), "--rate", str(rate), "--fields", str(fields),
                                    "--topics", str(topics), "--qos", str(qos)], stdout=subprocess.PIPE, text=True)
            while gen.poll() is None:
                time.sleep(1.0)
                watch.sample()
            out, _ = gen.communicate()
            sent = orjson.loads(out.strip().splitlines()[-1])
            load_end = load()
            shape = MqttShape(fields, topics, sent["t0_ms"])
            stored_n = _until_settled(vm, match, sent["samples"], watch, 180)
            elapsed = time.monotonic() - t0
            cpu = watch.cpu_s() - cpu0
            counted = delivery(shape.produced(sent["messages"]), _stored(vm, match, lambda m: _series(shape, m)))
        finally:
            _stop(procs)
            broker.stop()
            vm.stop()
        messages = sent["messages"]
        return {
            "source": "mqtt", "ingester": ing.name, "processes": len(procs),
            "protocol": protocol if ingester is None else None,
            "qos": qos, "fields": fields, "topics": topics, "broker": "mosquitto defaults (20 in flight, 1,000 queued)",
            "offered_msgs_per_s": rate, "seconds": seconds, "messages": messages, "acked_by_broker": sent["acked"],
            "sent_msgs_per_s": round(messages / sent["seconds"], 1),
            **counted, "tsdb_count": stored_n,
            "samples_per_s": round((counted["stored"] - counted["extra"] - counted["duplicates"]) / sent["seconds"], 1),
            "drained_after_s": round(elapsed - sent["seconds"], 1),
            "cpu_s": round(cpu, 2), "cpu_us_per_msg": round(cpu / messages * 1e6, 1) if messages else None,
            "rss_mb": round(max(watch.rss_mb), 1), "rss_start_mb": round(watch.rss_mb[0], 1),
            "load_before": load_before, "load_end_of_load": load_end,
        }


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class _OpcuaServer:
    """The load generator's OPC-UA server: `variables` Doubles, all rewritten as fast as it can from "go"."""

    def __init__(self, variables: int, seconds: float) -> None:
        self.port = free_port()
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}/bench/"
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.loadgen", "opcua", "--port", str(self.port),
                                      "--variables", str(variables), "--seconds", str(seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        self.done: list[dict[str, Any]] = []

    def go(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        out = self.proc.stdout
        threading.Thread(target=lambda: self.done.append(orjson.loads(out.readline())), daemon=True).start()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _node(identifier: str) -> int:
    """`dev<k>.v<j>` -> the variable's index, k * 10 + j (the order the server writes them in)."""
    dev, var = identifier.split(".")
    return int(dev.removeprefix("dev")) * FIELDS_PER_OBJECT + int(var.removeprefix("v"))


def _changes(done: dict[str, Any], variables: int) -> set[tuple[int, float]]:
    """Every (variable, value) the server wrote: write n (from 1) put float(n) into variable (n - 1) % variables."""
    return {((n - 1) % variables, float(n)) for n in range(1, done["changes"] + 1)}


def server_alone(server: _OpcuaServer, variables: int) -> list[tuple[int, float]]:
    """What a bare asyncua client receives, subscribed before the server starts writing (same publishing interval
    and queue as the agent's), until the server has stopped and nothing more came for 2 s."""
    async def main() -> list[tuple[int, float]]:
        from asyncua import Client

        received: list[tuple[int, float]] = []
        last = [time.monotonic()]

        class Handler:
            def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
                received.append((_node(node.nodeid.Identifier), float(val)))
                last[0] = time.monotonic()

        async with Client(server.endpoint) as client:
            ns = await client.get_namespace_index("urn:factory-twin:bench")
            path = [f"{ns}:{n}" for n in ("bench", "site", "area", "line", "cell")]
            cell = await client.nodes.objects.get_child(path)
            nodes = [v for obj in await cell.get_children() for v in await obj.get_children()]
            sub = await client.create_subscription(100, Handler())
            await sub.subscribe_data_change(nodes, queuesize=1000)
            while True:
                if len(received) >= variables:  # the initial values: subscribed
                    break
                await asyncio.sleep(0.05)
            server.go()
            while True:
                if server.done and time.monotonic() - last[0] > 2.0:
                    return received
                await asyncio.sleep(0.1)

    return asyncio.run(main())


def ingest_opcua(seconds: float, variables: int) -> dict[str, Any]:
    """OPC-UA: a bare client and the agent, each subscribed before the server starts, each counted over the
    server's active window: the changes it made are the produced set, one distinct value each."""
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # the bare client's notes on an unsecured endpoint
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as t:
        tmp = Path(t)
        alone_srv = _OpcuaServer(variables, seconds)
        try:
            alone_load = load()
            got = server_alone(alone_srv, variables)
            alone_done = alone_srv.done[0]
        finally:
            alone_srv.stop()
        alone = delivery(_changes(alone_done, variables), [g for g in got if g[1] > 0])
        alone_per_s = (alone["stored"] - alone["extra"] - alone["duplicates"]) / alone_done["seconds"]

        srv = _OpcuaServer(variables, seconds)
        vm = VictoriaMetrics(tmp / "vm").start()
        ing = agent(lambda e: f"""  - type: opcua
    name: load
    endpoint: "{srv.endpoint}"
    root: bench
    publishing_interval_ms: 100
    queue_size: 1000""")
        procs = ing.start(tmp, {"tsdb": vm.url})
        match = '{__name__=~"v[0-9]+_value"}'
        try:
            wait_for(ing.ready, 90, "the agent to connect")
            wait_for(lambda: vm.series_count(match) >= variables, 60, "the agent to store every initial value")
            watch = ProcWatch(*(p.pid for p in procs))
            load_before = load()
            cpu0, t0 = watch.cpu_s(), time.monotonic()
            srv.go()
            while not srv.done:
                time.sleep(1.0)
                watch.sample()
            done = srv.done[0]
            produced = _changes(done, variables)
            _until_settled(vm, match, len(produced) + variables, watch, 180)
            elapsed = time.monotonic() - t0
            cpu = watch.cpu_s() - cpu0
            stored = [(_node(f"{m['asset']}.{m['__name__'].removesuffix('_value')}"), v)
                      for m, values, _ in vm.export(match) for v in values if v > 0]
            counted = delivery(produced, stored)
        finally:
            _stop(procs)
            srv.stop()
            vm.stop()
        per_s = (counted["stored"] - counted["extra"] - counted["duplicates"]) / done["seconds"]
        return {"source": "opcua", "variables": variables, "seconds": seconds,
                "server_changes_per_s": round(done["changes"] / done["seconds"], 1), **counted,
                "samples_per_s": round(per_s, 1),
                "server_alone": {"changes_per_s": round(alone_done["changes"] / alone_done["seconds"], 1),
                                 "received_per_s": round(alone_per_s, 1), "loss_pct": alone["loss_pct"],
                                 "duplicates": alone["duplicates"], "load_before": alone_load},
                "ratio": round(per_s / alone_per_s, 3) if alone_per_s else None,
                "drained_after_s": round(elapsed - done["seconds"], 1), "cpu_s": round(cpu, 2),
                "rss_mb": round(max(watch.rss_mb), 1), "load_before": load_before}
