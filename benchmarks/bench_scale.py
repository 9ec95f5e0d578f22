"""`factory-twin bench scale`: N simulated lines, one agent per line, twin instances sharing the stream.

Every part is its own process on loopback, as in production: Debian's mosquitto; per line a simulator
(`sim serve`, its own OPC-UA server, sped up so values change fast) and an agent (`edge run`: OPC-UA in,
embedded historian and UNS out); twin instances (`twin serve`) partitioned by line through MQTT 5 shared
subscriptions. Measured over a window after a warm-up:

- samples/s into the agents and into the twins (their counters before and after the window)
- CPU (% of one core) and resident memory of every process, summed and per process by role (/proc)
- end-to-end latency p50/p99: from a sample's source timestamp, set by the simulator when the value
  changed, to the sample's application to a twin's state; from the twins' latency histograms
  (`factory_twin_twin_ingest_latency_seconds`, the window's bucket deltas, interpolated within a bucket)
- delivery against the simulators' own record (`sim serve --record`, every value put on the wire, each
  simulator producing for a fixed time from when its agent monitors every variable, then serving on):
  what the agents' historians hold as sets of
  (asset, signal, ts, value), and whether the twins' final state of every signal is the last value
  recorded for it; the twins' counters (messages taken in, which they count before validating) only beside.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.bench_ingest import ProcWatch
from benchmarks.delivery import delivery
from benchmarks.servers import Mosquitto, wait_for
from factory_twin import plant_gen
from factory_twin.runtime import PROJECT_ROOT, free_port
from historian import SqliteHistorian
from plantmodel.uns import format_ts
from twin.metrics import quantile

LATENCY = "factory_twin_twin_ingest_latency_seconds"
PRODUCING_MARGIN_S = 20.0  # the simulators produce this much longer than warm-up and window: until all flow


class _Child:
    def __init__(self, role: str, name: str, args: list[str], workdir: Path, env: dict[str, str]) -> None:
        self.role, self.name = role, name
        self.err = workdir / f"{name}.err"
        with self.err.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "factory_twin", *args], cwd=workdir,
                                         stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **env})

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {self.err.read_text()[-1500:]}")

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def stop(self) -> None:
        self.interrupt()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _agent_yaml(path: Path, line: int, opcua_port: int, mqtt_port: int, health: int, clock: dict[str, Any]) -> Path:
    path.write_text(f"""
name: line{line}-edge
data_dir: {path.parent / f"agent{line}"}
clock: {orjson.dumps(clock).decode()}
health: {{port: {health}, telemetry_interval_s: 0}}
sources:
  - type: opcua
    name: line{line}-plc
    endpoint: "opc.tcp://127.0.0.1:{opcua_port}/factory-twin/"
    root: acme
    publishing_interval_ms: 100
    queue_size: 1000
sinks:
  - {{type: historian, name: history, path: {path.parent / f"agent{line}" / "history.db"}}}
  - {{type: uns, name: uns, broker: {{port: {mqtt_port}}}, qos: 1, retain: true}}
""")
    return path


def _twin_yaml(path: Path, mqtt_port: int, http_port: int, lines: list[str], peers: list[tuple[int, list[str]]],
               name: str, clock: dict[str, Any]) -> Path:
    partition = {"lines": lines, "group": "bench",
                 "peers": [{"url": f"http://127.0.0.1:{p}", "lines": ls} for p, ls in peers]}
    config = {"plant": "plant.yaml", "broker": {"port": mqtt_port, "protocol": "5"}, "client_id": name,
              "port": http_port, "database": str(path.parent / f"{name}.db"), "partition": partition, "clock": clock,
              "auth": {"api_keys": [{"name": "viewer", "role": "viewer", "key_env": "FT_VIEWER_KEY"}]}}
    path.write_text(orjson.dumps(config).decode())  # JSON is YAML
    return path


def _metrics(port: int, key: str) -> tuple[int, list[tuple[float, int]]]:
    """Messages taken in, and the latency histogram's cumulative buckets."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
    messages, buckets = 0, []
    for line in text.splitlines():
        if line.startswith("factory_twin_twin_messages_total{"):
            messages += int(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{LATENCY}_bucket{{"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), int(line.rsplit(" ", 1)[1])))
    return messages, buckets


def _agent_samples(port: int) -> int:
    return int(httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["samples_in"])


def _uns_sink(port: int) -> dict[str, Any]:
    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["sinks"]["uns"]


def _delivery(workdir: Path, n_lines: int, agents: list[int], twin_ports: list[int], key: str) -> dict[str, int]:
    """Once the plant has stopped producing (its records closed; its servers still up), let the agents drain and
    set what they published beside what the twins took in."""
    records = [workdir / f"sim{i + 1}.jsonl" for i in range(n_lines)]
    wait_for(lambda: all(r.exists() for r in records), 300, "the simulators to finish producing")
    wait_for(lambda: all(_uns_sink(p)["spool_depth"] == 0 for p in agents), 120, "the agents to drain")
    written = sum(_uns_sink(p)["written"] for p in agents)
    totals: list[int] = []
    changed = [time.monotonic()]

    def settled() -> bool:
        totals.append(sum(_metrics(p, key)[0] for p in twin_ports))
        if len(totals) > 1 and totals[-1] != totals[-2]:
            changed[0] = time.monotonic()
        return totals[-1] >= written or time.monotonic() - changed[0] > 5  # or unchanged for 5 s

    wait_for(settled, 60, "the twins to take in what the agents published")
    reconnects = sum(_reconnects(p, key) for p in twin_ports)
    by_line = {}
    for i, p in enumerate(agents):
        by_line[f"line{i + 1}"] = {"published": _uns_sink(p)["written"]}
    for p in twin_ports:
        text = httpx.get(f"http://127.0.0.1:{p}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
        for line in text.splitlines():
            if line.startswith("factory_twin_twin_messages_total{"):
                name = line.split('line="')[1].split('"')[0].rsplit("/", 1)[1]
                by_line.setdefault(name, {})[f"taken_in:{p}"] = int(line.rsplit(" ", 1)[1])
    return {"published_by_agents": written, "taken_in_by_twins": totals[-1],
            "twin_reconnects": reconnects, "by_line": by_line}


def _value(v: Any) -> Any:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def _against_record(workdir: Path, n_lines: int, agents: list[int], twin_port: int, key: str,
                    opcua_assets: set[str]) -> dict[str, Any]:
    """The simulators' records (every value they put on the wire) against the agents' historians, as sets, and
    against the final state a twin shows (it answers for the whole plant). The bench's agents read OPC-UA only,
    so the MQTT devices' values (the AGVs') are left out of both."""
    records = [workdir / f"sim{i + 1}.jsonl" for i in range(n_lines)]
    wait_for(lambda: all(d == 0 for p in agents
                         for d in (s["spool_depth"] for s in httpx.get(f"http://127.0.0.1:{p}/health",
                                                                       timeout=10).json()["sinks"].values())),
             120, "the agents to write everything")
    produced: set[tuple[str, str, str, Any]] = set()
    last: dict[tuple[str, str], tuple[str, Any]] = {}
    for r in records:
        for line in r.read_bytes().splitlines():
            d = orjson.loads(line)
            if d["asset"] not in opcua_assets:
                continue
            produced.add((d["asset"], d["signal"], d["ts"], _value(d["value"])))
            if (d["asset"], d["signal"]) not in last or last[(d["asset"], d["signal"])][0] <= d["ts"]:
                last[(d["asset"], d["signal"])] = (d["ts"], _value(d["value"]))
    stored: list[tuple[str, str, str, Any]] = []
    for i in range(n_lines):
        history = SqliteHistorian(workdir / f"agent{i + 1}" / "history.db", readonly=True)
        try:
            stored.extend((s.asset, s.signal, format_ts(s.ts), _value(s.value)) for s in history.samples("acme/*"))
        finally:
            history.close()
    assets = httpx.get(f"http://127.0.0.1:{twin_port}/api/assets", headers={"Authorization": f"Bearer {key}"},
                       timeout=30).json()
    shown = {(a["id"], name): (sig["ts"], _value(sig["value"])) for a in assets for name, sig in a["signals"].items()}
    wrong = sum(1 for k, v in last.items() if shown.get(k) != v)
    return {"historians_vs_record": delivery(produced, stored),  # the embedded store keeps one row per key:
            "twin_final_state": {"signals": len(last), "not_the_last_recorded": wrong}}  # duplicates invisible


def _reconnects(port: int, key: str) -> int:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("factory_twin_twin_broker_reconnects_total"))


def run_lines(workdir: Path, n_lines: int, n_twins: int, seconds: float, warmup: float, speed: float
              ) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    plant = plant_gen.replicate(plant_gen.load(PROJECT_ROOT / "configs" / "demo-plant.yaml"), n_lines)
    plant_gen.dump(plant, workdir / "plant.yaml")
    paths = plant_gen.line_paths(plant)
    key = secrets.token_urlsafe(24)
    env = {"FT_VIEWER_KEY": key}
    # one plant clock for every part (docs/time.md): the sped-up simulators' time, from now; a simulator that
    # waits for its agent catches up at twice its pace, which takes as long as the wait
    origin = datetime.now(UTC).isoformat()
    clock: dict[str, Any] = {"speed": speed, "origin": origin}
    origin_at = time.monotonic()
    broker = Mosquitto(workdir / "mosquitto").start()
    children: list[_Child] = []
    try:
        agents: list[int] = []
        for i in range(n_lines):
            opcua, health = free_port(), free_port()
            plant_gen.dump(plant_gen.only_line(plant, i), workdir / f"plant{i + 1}.yaml")
            children.append(_Child("simulator", f"sim{i + 1}", [
                "sim", "serve", f"plant{i + 1}.yaml", "--opcua-port", str(opcua), "--mqtt-port", str(broker.port),
                "--speed", str(speed), "--origin", origin, "--record", f"sim{i + 1}.jsonl",
                "--start-on-subscribe", "180", "--duration", str(warmup + seconds + PRODUCING_MARGIN_S),
                "--log-level", "error"], workdir, env))
            _agent_yaml(workdir / f"agent{i + 1}.yaml", i + 1, opcua, broker.port, health, clock)
            agents.append(health)
        twin_ports = [free_port() for _ in range(n_twins)]
        shares = [paths[k::n_twins] for k in range(n_twins)]
        for k in range(n_twins):
            peers = [(twin_ports[j], shares[j]) for j in range(n_twins) if j != k]
            _twin_yaml(workdir / f"twin{k + 1}.yaml", broker.port, twin_ports[k], shares[k], peers, f"twin{k + 1}",
                       clock)
            children.append(_Child("twin", f"twin{k + 1}", ["twin", "serve", f"twin{k + 1}.yaml", "--log-level",
                                                            "error"], workdir, env))
        started = list(children)

        def twins_listening() -> bool:
            for c in started:
                c.check()
            return all(httpx.get(f"http://127.0.0.1:{p}/api/health", headers={"Authorization": f"Bearer {key}"},
                                 timeout=5).json()["broker_connected"] for p in twin_ports)

        # agents only once the twins subscribe: what is published before has no subscriber to go to
        wait_for(twins_listening, 120, "the twins to connect to the broker")
        for i in range(n_lines):
            children.append(_Child("agent", f"agent{i + 1}", ["edge", "run", f"agent{i + 1}.yaml", "--log-level",
                                                              "error"], workdir, env))

        def all_flowing() -> bool:
            for c in children:
                c.check()
            return all(_metrics(p, key)[0] > 0 for p in twin_ports) and all(_agent_samples(p) > 0 for p in agents)

        wait_for(all_flowing, 120, "every line to reach its twin")
        # a benchmark's settle time, not synchronisation: the warm-up, and the simulators' catching up
        time.sleep(max(warmup, time.monotonic() - origin_at))
        watches = {c.name: (c.role, ProcWatch(c.proc.pid)) for c in children}
        assert broker.proc is not None
        watches["mosquitto"] = ("broker", ProcWatch(broker.proc.pid))
        cpu0 = {n: w.cpu_s() for n, (_, w) in watches.items()}
        load0 = os.getloadavg()[0]
        before = [_metrics(p, key) for p in twin_ports]
        agent0 = sum(_agent_samples(p) for p in agents)
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            for _, w in watches.values():
                w.sample()
        after = [_metrics(p, key) for p in twin_ports]
        agent1 = sum(_agent_samples(p) for p in agents)
        dt = time.monotonic() - t0
        load1 = os.getloadavg()[0]
        cpu = {n: (w.cpu_s() - cpu0[n]) / dt * 100 for n, (_, w) in watches.items()}
        for c in children:
            c.check()
        delivery = _delivery(workdir, n_lines, agents, twin_ports, key)
        opcua_assets = {a.path for a in plant_gen.PlantConfig.model_validate(plant).assets()
                        if a.config.sim is None or a.config.sim.interface == "opcua"}
        delivery |= _against_record(workdir, n_lines, agents, twin_ports[0], key, opcua_assets)
    finally:
        for c in children:  # all at once: each takes a moment to shut down in order
            c.interrupt()
        for c in children:
            c.stop()
        broker.stop()
    window = _bucket_delta(before, after)
    roles: dict[str, dict[str, Any]] = {}
    for name, (role, w) in watches.items():
        r = roles.setdefault(role, {"processes": 0, "cpu_pct": 0.0, "rss_mb": 0.0, "rss_mb_max": 0.0})
        rss = max(w.rss_mb)
        r["processes"] += 1
        r["cpu_pct"] += cpu[name]
        r["rss_mb"] += rss
        r["rss_mb_max"] = max(r["rss_mb_max"], rss)
    for r in roles.values():
        r["cpu_pct_per_process"] = round(r["cpu_pct"] / r["processes"], 1)
        r["rss_mb_per_process"] = round(r["rss_mb"] / r["processes"], 1)
        r["cpu_pct"], r["rss_mb"], r["rss_mb_max"] = round(r["cpu_pct"], 1), round(r["rss_mb"], 1), round(
            r["rss_mb_max"], 1)
    p50, p99 = quantile(window, 0.5), quantile(window, 0.99)
    return {
        "lines": n_lines, "machines": len(plant_gen.PlantConfig.model_validate(plant).assets()),
        "twins": n_twins, "agents": n_lines, "seconds": round(dt, 1), "speed": speed,
        "agent_samples_per_s": round((agent1 - agent0) / dt, 1),
        "twin_samples_per_s": round(sum(a[0] - b[0] for a, b in zip(after, before, strict=True)) / dt, 1),
        "latency_p50_ms": None if p50 is None else round(p50 * 1000, 1),
        "latency_p99_ms": None if p99 is None else round(p99 * 1000, 1),
        "latency_samples": window[-1][1] if window else 0,
        "cpu_pct_total": round(sum(cpu.values()), 1),
        "rss_mb_total": round(sum(max(w.rss_mb) for _, w in watches.values()), 1),
        **delivery,
        "load_avg_1m": [round(load0, 1), round(load1, 1)],  # the machine's, at the window's start and end
        "by_role": roles,
    }


def _bucket_delta(before: list[tuple[int, list[tuple[float, int]]]], after: list[tuple[int, list[tuple[float, int]]]]
                  ) -> list[tuple[float, int]]:
    """Cumulative buckets of the window, summed over the twin instances (they share the bounds)."""
    total: dict[float, int] = {}
    for (_, b), (_, a) in zip(before, after, strict=True):
        for (bound, n0), (_, n1) in zip(b, a, strict=True):
            total[bound] = total.get(bound, 0) + n1 - n0
    return sorted(total.items())


def bench_scale(workdir: Path, lines: list[int], twins: int | None, seconds: float, warmup: float,
                speed: float) -> dict[str, Any]:
    runs = []
    for n in lines:
        k = twins or (1 if n == 1 else 2)
        runs.append(run_lines(workdir / f"lines{n}", n, min(k, n), seconds, warmup, speed))
    return {"cores": os.cpu_count(), "load_note": "measured on a shared machine with other work running",
            "runs": runs}


def table(result: dict[str, Any]) -> str:
    head = (f"{'lines':>5} {'machines':>8} {'twins':>5} {'agent S/s':>9} {'twin S/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'CPU %':>6} {'RSS MB':>7} {'missing':>7}  per process: sim/agent/twin/broker CPU % | RSS MB")
    rows = [head]
    for r in result["runs"]:
        roles = r["by_role"]

        def per(key: str, roles: dict[str, Any] = roles) -> str:
            return "/".join(f"{roles[k][key]:.0f}" for k in ("simulator", "agent", "twin", "broker") if k in roles)

        rows.append(f"{r['lines']:>5} {r['machines']:>8} {r['twins']:>5} {r['agent_samples_per_s']:>9.0f} "
                    f"{r['twin_samples_per_s']:>8.0f} {r['latency_p50_ms']!s:>7} {r['latency_p99_ms']!s:>7} "
                    f"{r['cpu_pct_total']:>6.0f} {r['rss_mb_total']:>7.0f} {r['historians_vs_record']['missing']:>7}  "
                    f"{per('cpu_pct_per_process')} | {per('rss_mb_per_process')}")
    loads = ", ".join(f"{r['lines']} lines: {r['load_avg_1m'][0]}-{r['load_avg_1m'][1]}" for r in result["runs"])
    rows.append(f"({result['cores']} cores; {result['load_note']}; load average {loads})")
    return "\n".join(rows)
