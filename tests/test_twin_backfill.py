"""No silent gaps: what the twin missed while it was away comes back from the historian, once.

The agent writes every record to the historian and the unified namespace; here a test stands in for it, so it
can leave some records out of the namespace (the ones a disconnected twin would have missed) and compare the
twin with one fed everything in order.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import yaml
from support import (
    AUTH_CONFIG,
    PROJECT,
    Child,
    Mosquitto,
    ServedApp,
    agent_health,
    auth,
    free_port,
    stop_all,
    wait_until,
)

from historian.sqlite import SqliteHistorian
from plantmodel import mqtt, uns
from plantmodel.clock import PlantClock, wall_us
from plantmodel.config import parse_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Event, EventKind, Record, Sample, to_micros
from plantmodel.uns import format_ts
from twin.app_state import services_of
from twin.config import TwinConfig
from twin.main import create_app
from twin.performance import LinePerformance
from twin.state import PlantTwin

ENTERPRISE = "gaptest"  # its own namespace on the shared broker: no retained message of another test reaches it
LINE = f"{ENTERPRISE}/plant1/machining/line1"
CNC = f"{LINE}/turning/cnc-1"
RULES = [{"id": "spindle-stopped", "type": "threshold", "assets": ["*/cnc-*"], "signal": "spindle_speed",
          "low": 100, "on_delay_s": 5, "off_delay_s": 0, "severity": "warning"},
         {"id": "machine-alarm", "type": "machine_alarm", "assets": ["*"]}]


def plant() -> PlantConfig:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text()
    text = text.replace("enterprise: acme", f"enterprise: {ENTERPRISE}")
    return parse_config(text, PlantConfig)


def config(tmp: Path, broker: mqtt.BrokerConfig) -> TwinConfig:
    return TwinConfig.model_validate({
        "plant": "demo-plant.yaml", "broker": broker.model_dump(), "database": str(tmp / "twin.db"),
        "auth": AUTH_CONFIG, "anomaly": {"assets": []}, "alerts": {"rules": RULES},
        "history": {"path": str(tmp / "history.db"), "backfill": {"settle_s": 5}}})


def cnc_minute(t0: datetime, minute: int, down: bool) -> list[Record]:
    """One minute of the lathe: a sample every 5 s, a part every 20 s while producing; a stop with its alarm."""
    at = t0 + timedelta(minutes=minute)
    out: list[Record] = []
    if down:
        out += [Sample(CNC, "alarm_code", "E101", "", at), Sample(CNC, "state", "down", "", at),
                Event(CNC, EventKind.STATE_CHANGE, at, {"from": "producing", "to": "down"})]
    for s in range(0, 60, 5):
        out.append(Sample(CNC, "spindle_speed", 0.0 if down else 8000.0 + s, "rpm", at + timedelta(seconds=s)))
        if not down and s % 20 == 15:
            out.append(Event(CNC, EventKind.PART, at + timedelta(seconds=s), {"outcome": "good", "count": 1}))
    if down:  # back at the end of the minute
        end = at + timedelta(seconds=59)
        out += [Sample(CNC, "alarm_code", "none", "", end), Sample(CNC, "state", "producing", "", end),
                Event(CNC, EventKind.STATE_CHANGE, end, {"from": "down", "to": "producing"})]
    return out


class Agent:
    """What the edge agent does with each record: the historian first, then the namespace (retained, QoS 1)."""

    def __init__(self, tmp: Path, broker: mqtt.BrokerConfig) -> None:
        self.history = SqliteHistorian(tmp / "history.db")
        self.topics: set[str] = set()
        self.client = mqtt.make_client(broker, mqtt.unique_client_id("gap-test-agent"))
        mqtt.start(self.client, broker)
        wait_until(self.client.is_connected, 10, "the test's publisher to connect")

    def send(self, records: list[Record], *, uns_too: bool = True) -> None:
        assert not self.history.write(records).rejected
        if uns_too:
            for r in records:
                topic, payload = uns.encode(r)
                self.topics.add(topic)
                self.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)

    def close(self) -> None:
        for topic in self.topics:  # no retained value of this test reaches the next one
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        mqtt.stop(self.client)
        self.history.close()


def ran_throughout(cfg: TwinConfig, records: list[Record], clock: PlantClock) -> LinePerformance:
    """A twin that never went away, fed every record in order (in the plant's time zone, as the service)."""
    perf = LinePerformance(cfg, plant(), None, ZoneInfo(plant().sites[0].timezone), clock=clock)
    twin = PlantTwin(plant(), listeners=[perf.observe])
    for r in records:
        twin.apply(r)
    return perf


STORY = timedelta(minutes=21)  # a story begins at most this long before now
SLACK = timedelta(minutes=5)  # more than a test's run after its story


def clock_inside_one_day() -> PlantClock:
    """The twin's plant clock for a story of the last STORY: the wall clock, unless a midnight of the plant's zone
    falls in the story or within SLACK after now; then set back to SLACK before that midnight, so that the story and
    the test after it lie in one day (the OEE 'day' window the test reads) at any time of day."""
    tz, now = ZoneInfo(plant().sites[0].timezone), datetime.now(UTC)
    day = now.astimezone(tz).date()
    midnights = [datetime.combine(day + timedelta(days=d), clock_time(0), tzinfo=tz).astimezone(UTC) for d in (0, 1)]
    near = [m for m in midnights if now - STORY <= m <= now + SLACK]
    back_us = to_micros(now) - to_micros(near[0] - SLACK) if near else 0
    return PlantClock(wall_us=lambda: wall_us() - back_us)


def stops(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((s["id"], s["kind"], s["start"], s["end"], s["code"], s["reason"]) for s in items)


def alerts(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    def t(v: str | None) -> str | None:  # the alert API writes +00:00, the reference Z
        return None if v is None else v.replace("+00:00", "Z")

    return sorted((a["rule"], a["asset"], t(a["raised_at"]), t(a["last_at"]), t(a["cleared_at"]), a["occurrences"],
                   a["condition"], a["severity"], a["state"]) for a in items)


def as_json(data: Any) -> Any:
    """As the API would answer it."""
    return orjson.loads(orjson.dumps(data, option=orjson.OPT_UTC_Z))


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def test_a_lost_connection_is_filled_from_the_historian_once(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    clock = clock_inside_one_day()
    t0 = (clock.now() - timedelta(minutes=20)).replace(second=0, microsecond=0)
    before = [r for m in range(4) for r in cnc_minute(t0, m, down=False)]
    gap = [r for m in range(4, 10) for r in cnc_minute(t0, m, down=m == 6)]  # a stop, its alarm, a threshold
    after = [r for m in range(10, 13) for r in cnc_minute(t0, m, down=m == 11)]
    cfg = config(tmp_path, mosquitto)
    agent = Agent(tmp_path, mosquitto)
    app = create_app(cfg, plant(), clock=clock)
    try:
        with ServedApp(app) as s, httpx.Client(base_url=s.url, headers=auth(), timeout=10) as api:
            feed, backfill = services_of(app).feed, services_of(app).backfill
            wait_until(lambda: feed.subscribed and not backfill.holding, 15, "the twin to be live")
            agent.send(before)
            last = to_micros(before[-1].ts)
            wait_until(lambda: backfill.seen.watermarks.get(LINE) == last, 10, "the twin to take it in")
            agent.send(gap, uns_too=False)  # published while the twin was away: only the historian has it
            catch_ups = len(backfill.history)
            mqtt.reconnect(feed.client)  # the twin's connection drops and comes back
            # the reconnection's own catch-up, finished (a connection counted is not yet a catch-up begun)
            wait_until(lambda: len(backfill.history) > catch_ups and backfill.history[-1].seconds is not None
                       and not backfill.holding, 15, "the catch-up")
            agent.send(after)
            last = to_micros(after[-1].ts)
            wait_until(lambda: backfill.seen.watermarks.get(LINE) == last, 10, "the live records after")

            reference = ran_throughout(cfg, before + gap + after, clock)
            now = services_of(app).performance.now_us()
            oee = next(a for a in api.get("/api/oee", params={"window": "day"}).json()["assets"] if a["asset"] == CNC)
            expected = reference.oee.current(CNC, "day", now)
            assert expected is not None and expected.counts.good == 3 * 11  # 11 producing minutes, 3 parts each
            assert oee["counts"] == {"produced": 33, "good": 33, "scrap": 0, "rework": 0}  # retained: not again
            stop_losses = ("equipment_failure", "setup_and_adjustment", "idling_and_minor_stops", "process_defects",
                           "reduced_yield", "fully_productive_time")
            assert ({k: oee["losses_s"][k] for k in stop_losses}  # what does not grow with the clock
                    == {k: expected.losses.as_dict()[k] for k in stop_losses})
            assert oee["losses_s"]["idling_and_minor_stops"] == 2 * 59
            got = api.get("/api/downtime", params={"asset": CNC}).json()
            assert stops(got) == stops(as_json([s.as_dict(now) for s in reference.stops.select(CNC)]))
            assert [(s["code"], s["reason"]) for s in got] == [("E101", "unqualified")] * 2
            got = api.get("/api/alerts", params={"limit": 100}).json()
            assert alerts(got) == alerts(as_json([a.as_dict() for a in reference.alerts.store.select(limit=1000)]))
            assert {a["rule"] for a in got} == {"spindle-stopped", "machine-alarm"}
            gap_stop = t0 + timedelta(minutes=6)
            raised = sorted(a[2] for a in alerts(got) if a[0] == "machine-alarm")
            assert iso(gap_stop) in raised  # raised at the instant it happened, while the twin was away
            report = api.get("/api/health").json()["backfill"]["catch_ups"][-1]
            assert report["reason"] == "reconnection" and report["replayed"] >= len(gap)
            assert feed.duplicates > 0  # the retained messages of before the gap were skipped, not applied again
    finally:
        agent.close()


# ---- a twin killed under load ---------------------------------------------------------------------------------

SPEED = 10.0  # simulated seconds per wall second: failures every few seconds of the run
RUN_S = 85.0  # the simulator's bounded run: about 10 s of it left after the restart
KILLED_S = 60.0  # how long the second twin stays dead
KILL_RULES = [*RULES, {"id": "spc", "type": "spc", "assets": ["*/inspect-*"], "rules": ["nelson1", "nelson2"]}]


def quick_failing_plant(out: Path) -> Path:
    """The demo line with failures every couple of minutes of simulated time, so stops come thick and fast."""
    data = yaml.safe_load((PROJECT / "configs" / "demo-plant.yaml").read_text())
    for cell in data["sites"][0]["areas"][0]["lines"][0]["cells"]:
        for asset in cell["assets"]:
            sim = asset.get("sim") or {}
            if "mtbf_s" in sim:
                sim["mtbf_s"], sim["mttr_s"] = 150, 25
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def twin_yaml(tmp: Path, name: str, broker: int, port: int, origin: str) -> Path:
    path = tmp / f"twin-{name}.yaml"
    path.write_text(yaml.safe_dump({
        "plant": "plant.yaml", "broker": {"port": broker}, "clock": {"speed": SPEED, "origin": origin},
        "client_id": f"twin-{name}", "port": port,
        "database": str(tmp / f"twin-{name}.db"), "auth": AUTH_CONFIG, "feed_silence_s": 0,
        "anomaly": {"assets": []}, "alerts": {"rules": KILL_RULES},
        "spc": [{"asset": "acme/plant1/machining/line1/quality/inspect-1", "signal": "measured_diameter",
                 "target": 42.0, "sigma": 0.004, "lsl": 41.985, "usl": 42.015}],
        "history": {"path": str(tmp / "agent" / "history.db")}}))
    return path


def view(url: str) -> dict[str, Any]:
    """What a user sees of OEE (today's and the finished days': the run may pass a midnight of the plant), stops and
    alerts, minus what moves with the clock between two requests."""
    with httpx.Client(base_url=url, headers=auth("viewer"), timeout=10) as api:
        oee = {a["asset"]: a for a in api.get("/api/oee", params={"window": "day"}).json()["assets"]}
        days = {p: [(d["window"], d["counts"], d["time_model_s"]) for d in api.get(
            "/api/oee/history", params={"asset": p, "window": "day"}).json()] for p in oee}
        down = api.get("/api/downtime", params={"limit": 10_000}).json()
        got = api.get("/api/alerts", params={"limit": 10_000}).json()
    return {"counts": {p: a.get("counts") for p, a in oee.items()}, "days_before": days,
            "time_model_s": {p: a.get("time_model_s") for p, a in oee.items()},
            "stops": stops(down), "alerts": alerts(got) + sorted((a["rule"], a["asset"], str(a["value"]))
                                                                 for a in got)}


def close(a: dict[str, dict[str, float] | None], b: dict[str, dict[str, float] | None],
          tol_s: float = 2.0 * SPEED) -> bool:
    """Time models equal but for the plant clock moving between the two requests."""
    return a.keys() == b.keys() and all(
        (x is None) == (y is None) and (x is None or y is None or (x.keys() == y.keys() and all(
            abs(x[k] - y[k]) <= tol_s for k in x))) for x, y in ((a[p], b[p]) for p in a))


def test_a_twin_killed_for_60_s_under_load_ends_as_if_it_had_never_left(tmp_path: Path) -> None:
    """Two twins on one line: one runs throughout, the other is killed (SIGKILL) and restarted 60 s later.
    Afterwards their OEE, stop lists and alert histories are the same."""
    broker = Mosquitto(tmp_path / "mosquitto").start()  # a broker of its own: no retained message of other tests
    quick_failing_plant(tmp_path / "plant.yaml")
    opcua, agent_health_port = free_port(), free_port()
    ports = {"a": free_port(), "b": free_port()}
    origin = format_ts(datetime.now(UTC))  # one plant clock, SPEED times faster than the wall's, for every part
    env = {"FT_MQTT_PORT": str(broker.port), "FT_OPCUA_ENDPOINT": f"opc.tcp://127.0.0.1:{opcua}/factory-twin/",
           "FT_DATA_DIR": str(tmp_path / "agent"), "FT_AGENT_HEALTH_PORT": str(agent_health_port),
           "FT_PLANT_SPEED": str(SPEED), "FT_PLANT_ORIGIN": origin}
    children: list[Child] = []

    def twin(name: str, run: str = "") -> Child:
        config = twin_yaml(tmp_path, name, broker.port, ports[name], origin)
        child = Child(f"twin-{name}{run}", ["twin", "serve", str(config),
                                            "--log-level", "warning"], tmp_path)
        children.append(child)
        return child

    def live(name: str) -> bool:
        h = httpx.get(f"http://127.0.0.1:{ports[name]}/api/health", headers=auth("viewer"), timeout=2).json()
        return h["broker_connected"] and not h["backfill"]["catching_up"]

    try:
        twin("a")
        b = twin("b")
        wait_until(lambda: live("a") and live("b"), 60, "both twins to be up")  # before the line starts
        children.append(Child("agent", ["edge", "run", str(PROJECT / "configs" / "edge-demo.yaml")], tmp_path, env))
        sim = Child("sim", ["sim", "serve", str(tmp_path / "plant.yaml"), "--opcua-port", str(opcua), "--mqtt-port",
                            str(broker.port), "--speed", str(SPEED), "--origin", origin, "--duration", str(RUN_S),
                            "--start-on-subscribe", "60"], tmp_path)
        children.append(sim)
        url = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
        wait_until(lambda: len(view(url["a"])["stops"]) >= 3, 90, "the line to run and stop a few times")
        b.proc.kill()  # SIGKILL: nothing flushed, nothing said goodbye
        b.proc.wait(10)
        killed_at = time.monotonic()
        wait_until(lambda: time.monotonic() - killed_at >= KILLED_S, KILLED_S + 10, "a minute away", interval=1)
        twin("b", "-restarted")
        wait_until(lambda: "simulation finished" in sim.stderr(), RUN_S + 120, "the simulator's bounded run to end")
        wait_until(lambda: all(s["spool_depth"] == 0 for s in agent_health(agent_health_port)["sinks"].values()),
                   60, "the agent to deliver everything")

        def same() -> bool:
            a, b_ = view(url["a"]), view(url["b"])
            kept = ("counts", "days_before", "stops", "alerts")
            return [a[k] for k in kept] == [b_[k] for k in kept] and close(a["time_model_s"], b_["time_model_s"])

        try:
            wait_until(same, 30, "the restarted twin to agree with the one that ran throughout", interval=1)
        except AssertionError:
            a, b_ = view(url["a"]), view(url["b"])
            assert a == b_  # shows the difference
            raise
        a = view(url["a"])
        produced = sum(c["produced"] for c in a["counts"].values() if c) + sum(
            c["produced"] for days in a["days_before"].values() for _, c, _ in days)
        assert produced > 50 and len(a["stops"]) >= 10 and len(a["alerts"]) >= 4, (produced, a["stops"], a["alerts"])
        with httpx.Client(base_url=url["b"], headers=auth("viewer"), timeout=10) as api:
            first = api.get("/api/health").json()["backfill"]["catch_ups"][0]
        assert first["reason"] == "start-up" and first["replayed"] > 0 and first["error"] is None
        print(f"after the restart: {first['replayed']} records replayed in {first['seconds']} s; "
              f"{produced} parts, {len(a['stops'])} stops, {len(a['alerts']) // 2} alerts equal in both twins")
    finally:
        try:
            stop_all(children, killed={"twin-b"})
        finally:
            broker.stop()


def test_a_historian_away_at_start_up_is_read_later_and_nothing_counts_twice(tmp_path: Path,
                                                                             mosquitto: mqtt.BrokerConfig) -> None:
    clock = clock_inside_one_day()
    t0 = (clock.now() - timedelta(minutes=20)).replace(second=0, microsecond=0)
    before = [r for m in range(4) for r in cnc_minute(t0, m, down=False)]  # while the twin was down
    live = [r for m in range(4, 8) for r in cnc_minute(t0, m, down=m == 5)]
    cfg = config(tmp_path, mosquitto)
    agent = Agent(tmp_path, mosquitto)
    agent.send(before, uns_too=False)
    app = create_app(cfg, plant(), clock=clock)
    parts = services_of(app)
    reader, calls = parts.history, []
    real = reader.historian

    def flaky() -> Any:  # the historian cannot be reached the first time the twin asks
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("historian away")
        return real()

    reader.historian = flaky
    try:
        with ServedApp(app) as s, httpx.Client(base_url=s.url, headers=auth(), timeout=10) as api:
            wait_until(lambda: parts.feed.subscribed and not parts.backfill.holding, 15, "the twin to be live")
            agent.send(live)  # the live feed goes on while the gap waits
            last = to_micros(live[-1].ts)
            wait_until(lambda: parts.backfill.seen.watermarks.get(LINE) == last, 10, "the live records")
            wait_until(lambda: len(parts.backfill.history) >= 2 and parts.backfill.history[-1].complete,
                       20, "the gap to be read once the historian answers")
            report = api.get("/api/health").json()["backfill"]["catch_ups"]
            assert report[0]["error"] == "ConnectionError: historian away" and report[1]["lines"][LINE]["until"]
            oee = next(a for a in api.get("/api/oee", params={"window": "day"}).json()["assets"] if a["asset"] == CNC)
            assert oee["counts"]["good"] == 3 * 4 + 3 * 3  # the gap's parts and the live ones, each once
            assert [(s["code"], s["kind"]) for s in api.get("/api/downtime", params={"asset": CNC}).json()] == [
                ("E101", "minor_stop")]
    finally:
        agent.close()
