"""The twin's OEE, downtime and SPC: fed like the live service, checked against the analytics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from support import AUTH_CONFIG, PROJECT, ServedApp, auth, history_store, wait_until

from analytics.oee import EventLog, OeeOptions, Window, oee_windows
from plantmodel import mqtt, uns
from plantmodel.config import parse_config
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.telemetry import Event, EventKind, Sample, to_micros
from twin.config import TwinConfig
from twin.main import create_app
from twin.performance import LinePerformance
from twin.state import PlantTwin

ENTERPRISE = "oeetest"  # its own namespace on the shared broker: no retained message of another test reaches it
LINE = f"{ENTERPRISE}/plant1/machining/line1"
CNC = f"{LINE}/turning/cnc-1"
INSPECT = f"{LINE}/quality/inspect-1"
T0 = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # an hour before the early shift
CALENDAR = ShiftCalendarConfig(timezone="UTC", shifts=[
    {"name": "early", "start": "06:00", "end": "14:00"}, {"name": "late", "start": "14:00", "end": "22:00"},
    {"name": "night", "start": "22:00", "end": "06:00"}])


def plant() -> PlantConfig:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text()
    text = text.replace("enterprise: acme", f"enterprise: {ENTERPRISE}")
    return parse_config(text, PlantConfig)


def config(**extra: Any) -> TwinConfig:
    return TwinConfig.model_validate({"plant": "demo-plant.yaml", "oee": {"minor_stop_s": 120, "reasons": {
        "E101": "spindle overload"}}, "spc": [{"asset": INSPECT, "signal": "measured_diameter", "target": 42.0,
                                              "sigma": 0.004, "lsl": 41.985, "usl": 42.015}],
        "auth": AUTH_CONFIG} | extra)


def state(minutes: float, to: str, reason: str | None = None, t0: datetime = T0) -> Event:
    data = {"to": to} | ({"reason": reason} if reason else {})
    return Event(CNC, EventKind.STATE_CHANGE, t0 + timedelta(minutes=minutes), data)


def parts(minutes: float, n: int, outcome: str = "good", t0: datetime = T0) -> Event:
    return Event(CNC, EventKind.PART, t0 + timedelta(minutes=minutes), {"outcome": outcome, "count": n})


def diameter(minutes: float, value: float, t0: datetime = T0) -> Sample:
    return Sample(INSPECT, "measured_diameter", value, "mm", t0 + timedelta(minutes=minutes))


def story(t0: datetime = T0) -> list[Event]:
    """A morning: producing from 05:30, a 30-min failure with an alarm code, a minor stop, a failure across
    the 14:00 shift change, then producing again in the late shift (times for T0 = 05:00)."""
    return [state(30, "producing", t0=t0), parts(45, 40, t0=t0), state(120, "down", "E101", t0),
            state(150, "producing", t0=t0), parts(200, 300, t0=t0), state(300, "down", t0=t0),
            state(301, "producing", t0=t0), parts(400, 200, "scrap", t0), state(530, "down", t0=t0),
            state(560, "producing", t0=t0), parts(600, 100, t0=t0)]


def calendar_ending_shift_at(boundary: datetime) -> ShiftCalendarConfig:
    """Three 8-hour shifts, one of them starting at `boundary` (so a live test can sit in a known shift)."""
    b = boundary.hour * 60 + boundary.minute
    hm = [f"{(b + k * 480) % 1440 // 60:02d}:{(b + k * 480) % 60:02d}" for k in (-1, 0, 1, 2)]
    return ShiftCalendarConfig(timezone="UTC", shifts=[
        {"name": "early", "start": hm[0], "end": hm[1]}, {"name": "late", "start": hm[1], "end": hm[2]},
        {"name": "night", "start": hm[2], "end": hm[3]}])


def test_live_windows_equal_the_batch_computation_across_shift_changes() -> None:
    perf = LinePerformance(config(), plant(), CALENDAR)
    twin = PlantTwin(plant(), listeners=[perf.observe])
    for e in story():
        twin.apply(e)
    now = to_micros(T0 + timedelta(minutes=610))
    early = perf.oee.history(CNC, "shift")[-1]
    late = perf.oee.current(CNC, "shift", now)
    assert (early.key, late.key) == ("2026-03-02/early", "2026-03-02/late")
    opts = OeeOptions(36.0, minor_stop_s=120)
    s6, s14 = to_micros(T0 + timedelta(hours=1)), to_micros(T0 + timedelta(hours=9))
    from analytics.oee import Span

    w_early = Window("2026-03-02/early", s6, s14, (Span(s6, s14),))
    [expected] = oee_windows(EventLog.from_events(story()), [w_early], opts)
    assert early.time == expected.time and early.counts == expected.counts
    assert early.time.failure == 30 * 60_000_000 + 10 * 60_000_000 and early.time.minor_stops == 1
    assert late.time.failure == 20 * 60_000_000 and late.time.failures == 0  # counted where it began
    assert early.counts.good == 300 and early.counts.scrap == 200  # parts at 05:45 belong to the night shift
    stops = perf.stops.select(CNC)
    assert [(s.kind, s.reason) for s in stops] == [("failure", "spindle overload"), ("minor_stop", None),
                                                   ("failure", None)]


def test_spc_rule_violations_become_alerts() -> None:
    perf = LinePerformance(config(), plant(), CALENDAR)
    twin = PlantTwin(plant(), listeners=[perf.observe])
    for i, v in enumerate([42.0, 42.001, 41.999, 42.0, 42.02]):
        twin.apply(diameter(i, v))
    [alert] = perf.alerts.store.select()
    assert (alert.kind, alert.detail["spc_rule"], alert.value) == ("spc", "nelson1", 42.02)
    assert alert.state == "cleared_unacked"  # a violation is an event: seen to, it is done


@pytest.fixture()
def publisher(mosquitto: mqtt.BrokerConfig):
    client = mqtt.make_client(mosquitto, "oee-test-publisher")
    mqtt.start(client, mosquitto)
    wait_until(client.is_connected, 10, "the publisher to connect")
    yield client
    mqtt.stop(client)


def test_api_live_oee_downtime_reasons_pareto_and_spc(tmp_path: Path, mosquitto: mqtt.BrokerConfig,
                                                      publisher: paho.Client) -> None:
    # live figures are for the shift the wall clock is in: the story's shift change was 90 min ago
    boundary = (datetime.now(UTC) - timedelta(minutes=90)).replace(second=0, microsecond=0)
    t0 = boundary - timedelta(minutes=540)
    app = create_app(config(broker=mosquitto.model_dump(), database=str(tmp_path / "twin.db")), plant(),
                     calendar_ending_shift_at(boundary))
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth(), timeout=5) as api:
        wait_until(lambda: api.get("/api/health").json()["broker_connected"], 10, "the twin to connect")
        measured = [diameter(600 + i, 42.0 + 0.005 * (i % 2), t0) for i in range(8)]
        for r in [*story(t0), *measured, diameter(620, 41.95, t0)]:
            topic, payload = uns.encode(r)
            publisher.publish(topic, payload, qos=1).wait_for_publish(5)

        def shift_oee() -> dict[str, Any] | None:
            body = api.get("/api/oee").json()
            cnc = next(a for a in body["assets"] if a["asset"] == CNC)
            return body if cnc.get("counts", {}).get("good") == 100 else None

        body = wait_until(shift_oee, 10, "the late shift's parts to reach the twin's OEE")
        cnc = next(a for a in body["assets"] if a["asset"] == CNC)
        assert cnc["window"] == f"{boundary.date()}/late" and cnc["losses_s"]["equipment_failure"] == 20 * 60
        assert set(cnc["kpis"]) >= {"availability", "performance", "quality", "oee", "mtbf_s", "mttr_s", "teep"}
        assert body["lines"][0]["method"] == "output-based" and body["lines"][0]["bottleneck"].endswith("cnc-2")
        history = api.get("/api/oee/history", params={"asset": CNC}).json()
        assert history[-1]["window"] == f"{(boundary - timedelta(hours=8)).date()}/early"
        assert history[-1]["counts"]["scrap"] == 200

        assert body["current"] == {"key": f"{boundary.date()}/late", "shift": "late",
                                   "start": boundary.isoformat().replace("+00:00", "Z"),
                                   "end": (boundary + timedelta(hours=8)).isoformat().replace("+00:00", "Z")}
        assert body["lines"][0]["target"] is None  # no oee rule names the line

        stops = api.get("/api/downtime", params={"asset": CNC}).json()
        assert [s["reason"] for s in stops] == ["unqualified", "unqualified", "spindle overload"]
        assert api.get("/api/downtime/reasons").json() == {"codes": {"E101": "spindle overload"}, "given": []}
        r = api.post(f"/api/downtime/{stops[0]['id']}/reason", json={"reason": "coolant pump", "by": "j.doe",
                                                                     "comment": "pump replaced"})
        assert r.status_code == 200 and r.json()["reason_source"] == "operator"
        assert api.post("/api/downtime/nope@1/reason", json={"reason": "x", "by": "y"}).status_code == 404
        assert api.post(f"/api/downtime/{stops[0]['id']}/reason", json={"by": "y"}).status_code == 422
        assert api.get("/api/downtime/reasons").json()["given"] == ["coolant pump"]
        pareto = api.get("/api/downtime/pareto", params={"window": "all", "asset": CNC}).json()["bars"]
        assert [(b["key"], b["seconds"]) for b in pareto] == [("coolant pump", 1800), ("spindle overload", 1800),
                                                             ("unqualified", 60)]  # ties by name
        assert pareto[-1]["cumulative"] == pytest.approx(1.0)

        spc = wait_until(lambda: [c for c in api.get("/api/spc").json() if c["n"] == 9], 10, "9 measurements")
        assert spc[0]["capability"]["cpk"] is not None and spc[0]["ucl"] == pytest.approx(42.012)
        alerts = api.get("/api/alerts").json()
        assert alerts and alerts[0]["detail"]["spc_rule"] == "nelson1" and alerts[0]["asset"] == INSPECT
        json.dumps(api.get(f"/api/oee/{CNC}").json())  # serialisable all the way down
        assert api.get("/api/oee/nope").status_code == 404


def test_line_target_is_good_parts_at_the_bottlenecks_pace_over_known_time(
        tmp_path: Path, mosquitto: mqtt.BrokerConfig, publisher: paho.Client) -> None:
    boundary = (datetime.now(UTC) - timedelta(minutes=60)).replace(second=0, microsecond=0)
    rules = [{"id": "oee-target", "type": "oee", "assets": [LINE], "target": 0.6}]
    app = create_app(config(broker=mosquitto.model_dump(), database=str(tmp_path / "twin.db"),
                            alerts={"rules": rules}), plant(), calendar_ending_shift_at(boundary))
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth(), timeout=5) as api:
        wait_until(lambda: api.get("/api/health").json()["broker_connected"], 10, "the twin to connect")
        stations = [a["asset"] for a in api.get("/api/oee").json()["assets"]]
        for path in stations:  # the whole line producing since 40 minutes into the shift
            event = Event(path, EventKind.STATE_CHANGE, boundary + timedelta(minutes=40), {"to": "producing"})
            publisher.publish(*uns.encode(event), qos=1).wait_for_publish(5)
        line = wait_until(lambda: next((ln for ln in api.get("/api/oee").json()["lines"]
                                        if ln["planned_busy_time_s"] > 0), None), 10, "known time on the line")
        assert line["target"]["oee"] == 0.6 and line["bottleneck_ideal_cycle_s"] == 40
        expected = int(line["planned_busy_time_s"] * 0.6 / 40)
        assert line["target"]["good_by_now"] == expected and 20 * 60 * 0.6 / 40 <= expected


def test_malformed_events_do_not_break_the_numbers() -> None:
    perf = LinePerformance(config(), plant(), CALENDAR)
    twin = PlantTwin(plant(), listeners=[perf.observe])
    for e in story():
        twin.apply(e)
    before = perf.oee.current(CNC, "shift", to_micros(T0 + timedelta(minutes=610)))
    t = T0 + timedelta(minutes=605)
    for data in ({"to": 123}, {"to": None}, {}, {"to": ["producing"]}):
        twin.apply(Event(CNC, EventKind.STATE_CHANGE, t, data))
        twin.apply(Event(CNC, EventKind.STATE_CHANGE, t, {"to": "producing"}))  # and back
    for data in ({"outcome": ["good"]}, {"outcome": "good", "count": "7"}, {"outcome": "good", "count": -3},
                 {"outcome": "lost"}):
        twin.apply(Event(CNC, EventKind.PART, t, data))
    after = perf.oee.current(CNC, "shift", to_micros(T0 + timedelta(minutes=610)))
    assert after.counts == before.counts
    assert after.time.unknown == 0 and after.time.apt == before.time.apt  # unknown states for zero time


@pytest.mark.parametrize("backend", ["sqlite", "influxdb"])
def test_restart_rebuilds_the_days_oee_from_the_historian(tmp_path: Path, mosquitto: mqtt.BrokerConfig,
                                                          backend: str, request: pytest.FixtureRequest) -> None:
    boundary = (datetime.now(UTC) - timedelta(minutes=90)).replace(second=0, microsecond=0)
    t0 = boundary - timedelta(minutes=540)
    history, setting = history_store(tmp_path, backend, request)
    history.write(story(t0))
    history.close()
    app = create_app(config(broker=mosquitto.model_dump(), history=setting,
                            database=str(tmp_path / "twin.db")), plant(),
                     calendar_ending_shift_at(boundary))
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth(), timeout=5) as api:
        cnc = next(a for a in api.get("/api/oee").json()["assets"] if a["asset"] == CNC)
        assert cnc["counts"]["good"] == 100 and cnc["losses_s"]["equipment_failure"] == 20 * 60
        assert len(api.get("/api/downtime", params={"asset": CNC}).json()) == 3
