"""`factory-twin bench abuse`: the system under normal load with a hostile client beside it.

Processes on loopback: Debian's mosquitto with users and the compose stack's topic rights
(configs/mosquitto/acl, no anonymous access); an edge agent (`edge run`) reading device messages into its
historian and the unified namespace; the twin (`twin serve`) reading that namespace and the historian; and
this process, which plays everybody else:

- normal load: the demo line's every signal once a second on the namespace (as the agent's user), good
  devices sending QoS 1 state messages through the agent, and a client polling the live state (open loop,
  latency counted from when each request was due);
- the hostile client: a poison payload a second (NaN, integers beyond 64 bits, numbers beyond a float), junk
  topics for the agent and the twin, oversized request bodies (declared and chunked), the heaviest history
  requests a viewer may make (in a loop, within its rate limit), and forgeries (anonymous publishes, a device
  writing the namespace, commands without a key or approved by a viewer or by their requester).

Reported: live-state `p99_ms` (target < 100), the twin's `max_loop_stall_ms` (its own event-loop monitor, in
/metrics; target < 250), the twin's `rss_peak_mb` (< 400), `good_samples_lost` (the good devices' samples as
a set of (series, ts, value) against what the historian file holds, read after the run; target 0) and
`forged_accepted` (forgeries that took effect anywhere: connection, state, alerts, history, API; target 0).
The twin's own worker processes (history reads) are reported apart (`twin_workers_rss_peak_mb`). To see what
stalls the twin, run with FT_BENCH_TWIN_LOG=warning and PYTHONASYNCIODEBUG=1 (slow callbacks are logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho

from benchmarks.bench_ingest import ProcWatch
from benchmarks.bench_twin import KEY, LinePublisher, _http_load
from benchmarks.servers import Mosquitto, wait_for
from factory_twin.runtime import PROJECT_ROOT, config_path, free_port
from historian.sqlite import SqliteHistorian
from plantmodel import mqtt
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Sample

LINE = "acme/plant1/machining/line1"
CNC = f"{LINE}/turning/cnc-1"
DEVICES = f"{LINE}/logistics"
FORGED = "E999"  # an alarm code no machine raises: wherever it shows up, a forgery got through
HOSTILE_KEY = "bench-hostile-viewer-key"
ENGINEER_KEY = "bench-engineer-key-0001"
POISON = [b'{"timestamp": "%s", "battery": NaN, "parts": 18446744073709551616}',
          b'{"timestamp": "%s", "battery": 1e400, "parts": -99999999999999999999999}',
          b'{"timestamp": "%s", "battery": Infinity, "parts": 1' + b"0" * 400 + b"}",
          b'{"timestamp": "%s", "battery": [[[]]], "parts": {"x": NaN}}']


class SecuredMosquitto(Mosquitto):
    """Users from a password file and the repository's topic rights; no anonymous clients."""

    def __init__(self, workdir: Path, passwords: dict[str, str]) -> None:
        super().__init__(workdir)
        self.passwords = passwords

    def args(self) -> list[str]:
        passwd = self.workdir / "passwd"
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for i, (user, pw) in enumerate(self.passwords.items()):
            subprocess.run([tool, *(["-c"] if i == 0 else []), "-b", str(passwd), user, pw], check=True,
                           capture_output=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
                        f"acl_file {PROJECT_ROOT / 'configs' / 'mosquitto' / 'acl'}\npersistence false\n"
                        f"user {getpass.getuser()}\n")
        return ["-c", str(conf)]


def _broker(port: int, user: str | None) -> mqtt.BrokerConfig:
    return mqtt.BrokerConfig(port=port, username=user, password_env=f"FT_BENCH_MQTT_{(user or '').upper()}")


def _client(port: int, user: str, name: str) -> paho.Client:
    cfg = _broker(port, user)
    client = mqtt.make_client(cfg, mqtt.unique_client_id(name))
    client.max_inflight_messages_set(1000)
    mqtt.start(client, cfg)
    wait_for(client.is_connected, 10, f"the {name} client to connect")
    return client


class GoodDevices:
    """Devices that send a QoS 1 state message each second; every sample is remembered, to be found again."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.sent: set[tuple[str, str, int, float]] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="good devices", daemon=True)

    def _run(self) -> None:
        client = _client(self.port, "device", "bench-good-devices")
        tick = 0
        try:
            while not self.stop.is_set():
                now = datetime.now(UTC)
                infos = []
                for k in range(self.count):
                    serial = f"dev-{k:02d}"
                    battery, position = round(50 + 40 * math.sin(tick / 9 + k), 3), round(tick * 0.5 + k, 3)
                    body = {"timestamp": now.isoformat(), "battery": battery, "position": position, "parts": tick}
                    infos.append(client.publish(f"uagv/v2/acme/{serial}/state", orjson.dumps(body), qos=1))
                    us = int(now.timestamp() * 1_000_000)
                    asset = f"{DEVICES}/{serial}"
                    self.sent |= {(asset, "battery", us, float(battery)),
                                  (asset, "position", us, float(position)), (asset, "parts", us, float(tick))}
                for info in infos:
                    info.wait_for_publish(10)
                tick += 1
                self.stop.wait(max(0.0, 1.0 - (datetime.now(UTC) - now).total_seconds()))
        finally:
            mqtt.stop(client)


class HostileMqtt:
    """A poison payload a second, junk topics for the agent and the twin, forged publishes."""

    def __init__(self, port: int, junk_per_s: float) -> None:
        self.port, self.junk_per_s = port, junk_per_s
        self.stop = threading.Event()
        self.counts = {"poison": 0, "junk_agent": 0, "junk_twin": 0, "forged_attempts": 0, "forged_accepted": 0}
        self.thread = threading.Thread(target=self._run, name="hostile mqtt", daemon=True)

    def _anonymous_connects(self) -> bool:
        accepted: list[bool] = []
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=mqtt.unique_client_id("bench-anon"))
        client.on_connect = lambda c, u, f, rc, p=None: accepted.append(not rc.is_failure)
        with contextlib.suppress(OSError):
            client.connect("127.0.0.1", self.port, keepalive=5)
            client.loop_start()
            deadline = time.monotonic() + 5
            while not accepted and time.monotonic() < deadline:
                time.sleep(0.02)
            if accepted and accepted[0]:
                client.publish(f"{CNC}/alarm_code", orjson.dumps({"value": FORGED, "ts": _iso()}), qos=1)
            client.disconnect()
            client.loop_stop()
        return bool(accepted and accepted[0])

    def _run(self) -> None:
        device = _client(self.port, "device", "bench-hostile-device")
        edge = _client(self.port, "edge", "bench-hostile-edge")  # a misconfigured agent: junk on the namespace
        i, t0 = 0, time.monotonic()
        try:
            while not self.stop.is_set():
                second = int(time.monotonic() - t0)
                if i % max(1, int(self.junk_per_s)) == 0:
                    payload = POISON[self.counts["poison"] % len(POISON)].replace(b"%s", _iso().encode())
                    device.publish("uagv/v2/acme/poison/state", payload, qos=1)
                    self.counts["poison"] += 1
                    if second % 5 == 0:
                        self.counts["forged_attempts"] += 2
                        self.counts["forged_accepted"] += self._anonymous_connects()
                        device.publish(f"{CNC}/alarm_code", orjson.dumps({"value": FORGED, "ts": _iso()}), qos=1)
                device.publish(f"uagv/v2/acme/junk-{secrets.token_hex(4)}/state", secrets.token_bytes(40), qos=0)
                edge.publish(f"acme/junk-{secrets.token_hex(4)}/a/b/c/d/signal", b'{"value": 1}', qos=0)
                self.counts["junk_agent"] += 1
                self.counts["junk_twin"] += 1
                i += 1
                self.stop.wait(max(0.0, t0 + i / self.junk_per_s - time.monotonic()))
        finally:
            mqtt.stop(device)
            mqtt.stop(edge)


def _iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _big_bodies(port: int, until: float, counts: dict[str, int]) -> None:
    """Each second: a declared 50 MB body and a chunked one without end, to write routes, without a key."""
    while time.monotonic() < until:
        for head, chunk in ((b"POST /api/commands HTTP/1.1\r\nHost: twin\r\nContent-Length: 50000000\r\n\r\n",
                             b"{" * 65536),
                            (b"POST /api/jobs HTTP/1.1\r\nHost: twin\r\nTransfer-Encoding: chunked\r\n\r\n",
                             b"10000\r\n" + b"{" * 65536 + b"\r\n")):
            counts["big_bodies_sent"] += 1
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(head)
                answer = b""
                for _ in range(200):  # at most ~13 MB, unless the twin answers first
                    writer.write(chunk)
                    await writer.drain()
                    with contextlib.suppress(TimeoutError):
                        answer = await asyncio.wait_for(reader.read(64), 0.001)
                    if answer:
                        break
                if not answer:
                    answer = await asyncio.wait_for(reader.read(64), 10)
                if answer.startswith(b"HTTP/1.1 413"):
                    counts["big_bodies_refused_413"] += 1
                writer.close()
            except (OSError, TimeoutError):
                counts["big_bodies_cut_off"] += 1  # the twin closed the connection while we were still sending
        await asyncio.sleep(max(0.0, min(1.0, until - time.monotonic())))


def _heavy_paths(now: datetime) -> list[str]:
    month = f"start={(now - timedelta(days=31)).isoformat()}&end={now.isoformat()}".replace("+00:00", "Z")
    return [f"/api/history/{CNC}/spindle_speed?{month}&step_s=54&format=csv",  # the most windows allowed
            f"/api/history/{CNC}/spindle_speed?{month}&limit=100000&format=csv",  # the most raw points
            f"/api/history/{CNC}/spindle_speed?{month}&step_s=54",
            f"/api/assets/{CNC}/timeline?{month}",
            f"/api/replay?at={(now - timedelta(days=1)).isoformat().replace('+00:00', 'Z')}",
            f"/api/history/{CNC}/spindle_speed?{month}&step_s=1"]  # refused: too many windows


async def _heavy_queries(url: str, until: float, counts: dict[str, int]) -> None:
    """The heaviest requests a viewer may make, back to back (the rate limit answers 429 to the excess)."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {HOSTILE_KEY}"},
                                 timeout=120) as c:
        i = 0
        while time.monotonic() < until:
            path = _heavy_paths(datetime.now(UTC))[i % 6]
            i += 1
            try:
                r = await c.get(path)
                counts[f"heavy_{r.status_code}"] = counts.get(f"heavy_{r.status_code}", 0) + 1
                if r.status_code == 429:
                    await asyncio.sleep(0.25)
            except httpx.HTTPError:
                counts["heavy_errors"] = counts.get("heavy_errors", 0) + 1


async def _forged_api(url: str, until: float, counts: dict[str, int]) -> None:
    """Commands without a key, with a made-up key, approved by a viewer and by their own requester."""
    body = {"asset": CNC, "command": "reduce_speed", "value": 50, "reason": "forged"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        while time.monotonic() < until:
            attempts = [c.post("/api/commands", json=body),
                        c.post("/api/commands", json=body, headers={"Authorization": "Bearer " + "x" * 24}),
                        c.post("/api/commands", json=body, headers={"Authorization": f"Bearer {HOSTILE_KEY}"})]
            for r in await asyncio.gather(*attempts, return_exceptions=True):
                counts["forged_attempts"] += 1
                counts["forged_accepted"] += isinstance(r, httpx.Response) and r.is_success
            own = await c.post("/api/commands", json=body | {"reason": "self-approval"},
                               headers={"Authorization": f"Bearer {ENGINEER_KEY}"})
            if own.is_success:
                for key in (HOSTILE_KEY, ENGINEER_KEY):
                    r = await c.post(f"/api/commands/{own.json()['id']}/approve", json={"comment": "forged"},
                                     headers={"Authorization": f"Bearer {key}"})
                    counts["forged_attempts"] += 1
                    counts["forged_accepted"] += r.is_success
                await c.post(f"/api/commands/{own.json()['id']}/reject", json={"comment": "cleanup"},
                             headers={"Authorization": f"Bearer {ENGINEER_KEY}"})
            await asyncio.sleep(max(0.0, min(2.0, until - time.monotonic())))


def _descendants_rss_mb(pid: int) -> float:
    """Resident memory of every process below `pid` (the twin's forkserver, its history readers and jobs)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    below: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - below
        below |= frontier
    total = 0.0
    for p in below:
        with contextlib.suppress(OSError, ValueError):
            total += ProcWatch(p).rss_mb[0]
    return total


async def _watch(url: str, procs: dict[str, ProcWatch], until: float, stalls: list[float],
                 children_mb: list[float]) -> None:
    """RSS of the twin, its worker processes and the agent each second; the twin's own loop-stall gauge (its
    longest stall in the last 10 s) every two seconds, so the whole run is covered (and up to 8 s before it)."""
    pattern = re.compile(r'^factory_twin_twin_event_loop_stall_max_seconds\{window="10s"\} (\S+)$', re.M)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as c:
        k = 0
        while time.monotonic() < until:
            for w in procs.values():
                with contextlib.suppress(OSError):
                    w.sample()
            children_mb.append(_descendants_rss_mb(procs["twin"].pid))
            if k % 2 == 0:
                with contextlib.suppress(httpx.HTTPError):
                    m = pattern.search((await c.get("/metrics")).text)
                    if m:
                        stalls.append(float(m.group(1)))
            k += 1
            await asyncio.sleep(1.0)


async def _load(port: int, seconds: float, rate: float, procs: dict[str, ProcWatch]) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}"
    warmup = min(5.0, seconds / 4)
    until = time.monotonic() + warmup + seconds
    counts = {"big_bodies_sent": 0, "big_bodies_refused_413": 0, "big_bodies_cut_off": 0, "forged_attempts": 0,
              "forged_accepted": 0}
    stalls: list[float] = []
    children_mb: list[float] = []
    hostile = [asyncio.create_task(_big_bodies(port, until, counts)),
               asyncio.create_task(_heavy_queries(url, until, counts)),
               asyncio.create_task(_forged_api(url, until, counts)),
               asyncio.create_task(_watch(url, procs, until, stalls, children_mb))]
    live = await _http_load(port, ["/api/assets", f"/api/assets/{CNC}"], rate, seconds, warmup_s=warmup,
                            connections=8)
    await asyncio.gather(*hostile)
    return {"live": live, "hostile": counts, "stall_max_s": max(stalls, default=float("nan")),
            "children_mb": max(children_mb, default=0.0)}


def _prefill(path: Path, days: float) -> int:
    """A month of the CNC's spindle speed at 1 Hz, so the heaviest history requests have something to read."""
    history = SqliteHistorian(path)
    end = datetime.now(UTC) - timedelta(minutes=2)
    n = int(days * 86_400)
    try:
        for lo in range(0, n, 100_000):
            history.write([Sample(CNC, "spindle_speed", 8000.0 + (i % 600), "rpm", end - timedelta(seconds=n - i))
                           for i in range(lo, min(n, lo + 100_000))])
    finally:
        history.close()
    return n


def _agent_yaml(tmp: Path, port: int, health: int) -> Path:
    path = tmp / "agent.yaml"
    broker = f"{{port: {port}, username: edge, password_env: FT_BENCH_MQTT_EDGE}}"
    path.write_text(f"""
name: bench-abuse
data_dir: {tmp / "agent"}
health: {{port: {health}, telemetry_interval_s: 0}}
sources:
  - type: mqtt
    name: devices
    broker: {broker}
    qos: 1
    clean_session: false
    silence_s: 30
    subscriptions:
      - topic: uagv/v2/acme/{{serial}}/state
        asset: {DEVICES}/{{serial}}
        timestamp: timestamp
        fields:
          battery: {{path: battery, unit: "%"}}
          position: {{path: position, unit: m}}
          parts: {{path: parts, type: integer}}
sinks:
  - type: historian
    name: history
    path: {tmp / "history.db"}
  - type: uns
    name: uns
    broker: {broker}
""")
    return path


def _twin_yaml(tmp: Path, port: int, http: int) -> Path:
    path = tmp / "twin.yaml"
    path.write_text(f"""
plant: {config_path("demo-plant.yaml").resolve()}
broker: {{port: {port}, username: twin, password_env: FT_BENCH_MQTT_TWIN}}
port: {http}
history: {tmp / "history.db"}
database: {tmp / "twin.db"}
feed_silence_s: 30
auth:
  api_keys:
    - {{name: bench-viewer, role: viewer, key_env: FT_BENCH_VIEWER}}
    - {{name: hostile-viewer, role: viewer, key_env: FT_BENCH_HOSTILE}}
    - {{name: bench-engineer, role: engineer, key_env: FT_BENCH_ENGINEER}}
control:
  endpoint: opc.tcp://127.0.0.1:1/none/
  timeout_s: 1
  commands:
    - {{name: reduce_speed, assets: ["*/cnc-*"], kind: write, browse_name: speed_override, value: double,
       min: 50, max: 100}}
""")
    return path


def _stored(path: Path) -> set[tuple[str, str, int, float]]:
    history = SqliteHistorian(path, readonly=True)
    try:
        return {(s.asset, s.signal, _us(s.ts), float(s.value)) for s in history.samples(f"{DEVICES}/dev-*")}
    finally:
        history.close()


def _us(ts: datetime) -> int:
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _forged_in_history(path: Path) -> int:
    history = SqliteHistorian(path, readonly=True)
    try:
        return sum(1 for s in history.samples(CNC, "alarm_code") if s.value == FORGED)
    finally:
        history.close()


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def abuse(workdir: Path, seconds: float = 60.0, rate: float = 20.0, devices: int = 20, junk_per_s: float = 50.0,
          history_days: float = 31.0) -> dict[str, Any]:
    load_before = os.getloadavg()
    passwords = {user: secrets.token_urlsafe(18) for user in ("edge", "twin", "device")}
    env = os.environ | {f"FT_BENCH_MQTT_{u.upper()}": pw for u, pw in passwords.items()} | {
        "FT_BENCH_VIEWER": KEY, "FT_BENCH_HOSTILE": HOSTILE_KEY, "FT_BENCH_ENGINEER": ENGINEER_KEY}
    os.environ.update({f"FT_BENCH_MQTT_{u.upper()}": pw for u, pw in passwords.items()})
    prefilled = _prefill(workdir / "history.db", history_days)
    broker = SecuredMosquitto(workdir / "mqtt", passwords).start()
    http, health = free_port(), free_port()
    logs = {name: (workdir / f"{name}.err").open("wb") for name in ("agent", "twin")}
    agent = subprocess.Popen([sys.executable, "-m", "factory_twin", "edge", "run",
                              str(_agent_yaml(workdir, broker.port, health)), "--log-level", "error"],
                             env=env, stdout=subprocess.DEVNULL, stderr=logs["agent"])
    twin = subprocess.Popen([sys.executable, "-m", "factory_twin", "twin", "serve",
                             str(_twin_yaml(workdir, broker.port, http)), "--log-level",
                             os.environ.get("FT_BENCH_TWIN_LOG", "error")],
                            env=env, stdout=subprocess.DEVNULL, stderr=logs["twin"])
    url = f"http://127.0.0.1:{http}"
    plant = load_config(config_path("demo-plant.yaml"), PlantConfig)
    line = LinePublisher(plant, broker.port)
    line.broker = _broker(broker.port, "edge")
    line.client = mqtt.make_client(line.broker, mqtt.unique_client_id("bench-line"))
    good, bad = GoodDevices(broker.port, devices), HostileMqtt(broker.port, junk_per_s)
    try:
        wait_for(lambda: httpx.get(f"{url}/api/health", headers={"Authorization": f"Bearer {KEY}"},
                                   timeout=2).json()["broker_connected"], 60, "the twin to connect")
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{health}/health", timeout=2).json()["sources"]["devices"]
                 ["connected"], 60, "the agent to subscribe")
        line.start()
        good.thread.start()
        bad.thread.start()
        procs = {"twin": ProcWatch(twin.pid), "agent": ProcWatch(agent.pid)}
        result = asyncio.run(_load(http, seconds, rate, procs))
        good.stop.set()
        bad.stop.set()
        good.thread.join(30)
        bad.thread.join(30)
        line.close()
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{health}/health", timeout=2).json()["sinks"]["history"]
                 ["spool_depth"] == 0, 60, "the agent to store everything")
        agent_health = httpx.get(f"http://127.0.0.1:{health}/health", timeout=5).json()
        viewer = {"Authorization": f"Bearer {KEY}"}
        cnc = httpx.get(f"{url}/api/assets/{CNC}", headers=viewer, timeout=10).json()
        alerts = httpx.get(f"{url}/api/alerts?limit=10000", headers=viewer, timeout=10).text
        twin_health = httpx.get(f"{url}/api/health", headers=viewer, timeout=10).json()
        forged_state = int(cnc["signals"].get("alarm_code", {}).get("value") == FORGED) + int(FORGED in alerts)
    finally:
        good.stop.set()
        bad.stop.set()
        with contextlib.suppress(Exception):
            line.close()
        agent_rc, twin_rc = _stop(agent), _stop(twin)
        for f in logs.values():
            f.close()
        broker.stop()
    stored = _stored(workdir / "history.db")
    lost = good.sent - stored
    forged_history = _forged_in_history(workdir / "history.db")
    live, hostile = result["live"], result["hostile"]
    hostile_mqtt = bad.counts
    rejected = agent_health["sources"]["devices"]["rejected"]
    out = {
        "p99_ms": live["p99_ms"],
        "max_loop_stall_ms": round(result["stall_max_s"] * 1000, 1),
        "rss_peak_mb": round(max(procs["twin"].rss_mb), 1),
        "good_samples_lost": len(lost),
        "forged_accepted": hostile["forged_accepted"] + hostile_mqtt["forged_accepted"] + forged_state
        + forged_history,
        "targets_met": None,
        "seconds": seconds,
        "live_state": {k: live[k] for k in ("offered_per_s", "requests", "answered_ok", "p50_ms", "p90_ms", "p99_ms",
                                            "max_ms", "errors")},
        "twin_workers_rss_peak_mb": round(result["children_mb"], 1),
        "agent_rss_peak_mb": round(max(procs["agent"].rss_mb), 1),
        "good_samples_sent": len(good.sent),
        "good_samples_stored": len(good.sent & stored),
        "poison_sent": hostile_mqtt["poison"],
        "agent_rejected": rejected,
        "agent_status": agent_health["status"],
        "agent_problems": agent_health["problems"],
        "junk_topics_sent": {"agent": hostile_mqtt["junk_agent"], "twin": hostile_mqtt["junk_twin"]},
        "big_bodies": {"sent": hostile["big_bodies_sent"], "refused_413": hostile["big_bodies_refused_413"],
                       "cut_off": hostile["big_bodies_cut_off"]},
        "heavy_requests": {k[6:]: v for k, v in hostile.items() if k.startswith("heavy_")},
        "forged_attempts": hostile["forged_attempts"] + hostile_mqtt["forged_attempts"],
        "twin_health": {k: twin_health.get(k) for k in ("status", "problems", "messages", "rejected")},
        "history_prefilled_samples": prefilled,
        "exit_codes": {"agent": agent_rc, "twin": twin_rc},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    out["targets_met"] = (out["p99_ms"] < 100 and out["max_loop_stall_ms"] < 250 and out["rss_peak_mb"] < 400
                          and out["good_samples_lost"] == 0 and out["forged_accepted"] == 0)
    return out
