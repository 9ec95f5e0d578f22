"""No silent gaps: what the twin missed while it was away comes back from the historian, once.

The agent writes every record to the historian and the unified namespace; here a test stands in for it, so it
can leave some records out of the namespace (the ones a disconnected twin would have missed) and compare the
twin with one fed everything in order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from support import AUTH_CONFIG, PROJECT, ServedApp, auth, wait_until

from historian.sqlite import SqliteHistorian
from plantmodel import mqtt, uns
from plantmodel.config import parse_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Event, EventKind, Record, Sample, to_micros
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
        self.client = mqtt.make_client(broker, mqtt.unique_client_id("gap-test-agent"))
        mqtt.start(self.client, broker)
        wait_until(self.client.is_connected, 10, "the test's publisher to connect")

    def send(self, records: list[Record], *, uns_too: bool = True) -> None:
        assert not self.history.write(records).rejected
        if uns_too:
            for r in records:
                topic, payload = uns.encode(r)
                self.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)

    def close(self) -> None:
        mqtt.stop(self.client)
        self.history.close()


def ran_throughout(cfg: TwinConfig, records: list[Record]) -> LinePerformance:
    """A twin that never went away, fed every record in order (in the plant's time zone, as the service)."""
    perf = LinePerformance(cfg, plant(), None, ZoneInfo(plant().sites[0].timezone))
    twin = PlantTwin(plant(), listeners=[perf.observe])
    for r in records:
        twin.apply(r)
    return perf


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
    t0 = (datetime.now(UTC) - timedelta(minutes=20)).replace(second=0, microsecond=0)
    before = [r for m in range(4) for r in cnc_minute(t0, m, down=False)]
    gap = [r for m in range(4, 10) for r in cnc_minute(t0, m, down=m == 6)]  # a stop, its alarm, a threshold
    after = [r for m in range(10, 13) for r in cnc_minute(t0, m, down=m == 11)]
    cfg = config(tmp_path, mosquitto)
    agent = Agent(tmp_path, mosquitto)
    app = create_app(cfg, plant())
    try:
        with ServedApp(app) as s, httpx.Client(base_url=s.url, headers=auth(), timeout=10) as api:
            feed = app.state.feed
            wait_until(lambda: feed.subscribed and not app.state.backfill.holding, 15, "the twin to be live")
            agent.send(before)
            last = to_micros(before[-1].ts)
            wait_until(lambda: app.state.backfill.seen.watermarks.get(LINE) == last, 10, "the twin to take it in")
            agent.send(gap, uns_too=False)  # published while the twin was away: only the historian has it
            mqtt.reconnect(feed.client)  # the twin's connection drops and comes back
            wait_until(lambda: feed.connects >= 2 and not app.state.backfill.holding, 15, "the catch-up")
            agent.send(after)
            last = to_micros(after[-1].ts)
            wait_until(lambda: app.state.backfill.seen.watermarks.get(LINE) == last, 10, "the live records after")

            reference = ran_throughout(cfg, before + gap + after)
            now = app.state.performance.now_us()
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
