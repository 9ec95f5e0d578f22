"""Alerts with an ISA-18.2 lifecycle: rules with hysteresis and delays, states and who did what, escalation and
shelving on a hand-moved clock, deduplication, persistence across a restart, webhook and MQTT notifications
with retries, flood limiting, and the API's roles and scopes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client as ws_client
from support import API_KEYS, AUTH_CONFIG, PROJECT, ServedApp, auth, free_port, wait_until
from test_twin_oee import CNC, LINE, calendar_ending_shift_at, config, parts, plant, state

from plantmodel import mqtt
from plantmodel.config import ConfigError, parse_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Event, EventKind, Sample
from twin.alerting import AlertEngine, AlertsConfig, InvalidTransition, ManualClock, Notifier, Severity, State
from twin.app_state import services_of
from twin.auth import AuthError
from twin.config import TwinConfig, load_twin
from twin.db import TwinDatabase
from twin.main import create_app
from twin.performance import LinePerformance
from twin.state import PlantTwin

T0 = datetime(2026, 7, 1, 8, tzinfo=UTC)
CNC2 = f"{LINE}/milling/cnc-2"
ROBOT = f"{LINE}/assembly/robot-1"
HOT = {"id": "hot", "type": "threshold", "assets": ["*/cnc-*"], "signal": "spindle_temperature", "high": 80,
       "deadband": 2}
# the served apps' own namespace on the shared broker: no other test's message reaches them
SERVED = "alerttest"
S_LINE = f"{SERVED}/plant1/machining/line1"
S_CNC, S_CNC2, S_ROBOT = f"{S_LINE}/turning/cnc-1", f"{S_LINE}/milling/cnc-2", f"{S_LINE}/assembly/robot-1"
FAST_RETRY = {"attempts": 4, "backoff_s": 0.01, "backoff_max_s": 0.05}


def served_plant() -> PlantConfig:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text().replace("enterprise: acme", f"enterprise: {SERVED}")
    return parse_config(text, PlantConfig)


def temp(s: float, v: float, asset: str = CNC) -> Sample:
    return Sample(asset, "spindle_temperature", float(v), "°C", T0 + timedelta(seconds=s))


def make(clock: ManualClock, notifier: Notifier | None = None, db: TwinDatabase | None = None,
         **alerts: Any) -> AlertEngine:
    cfg = AlertsConfig.model_validate({"rules": [HOT]} | alerts)
    return AlertEngine(cfg, plant(), db or TwinDatabase(":memory:"), clock, notifier)


def actions(engine: AlertEngine, alert_id: int) -> list[tuple[str, str | None, str, str]]:
    return [(t.action, t.from_state, t.to_state, t.who) for t in engine.store.transitions(alert_id)]


def test_lifecycle_transitions_with_who_when_and_why_and_invalid_ones_refused() -> None:
    clock = ManualClock(T0)
    eng = make(clock)
    told: list[dict[str, Any]] = []
    eng.listeners.append(told.append)
    eng.observe(temp(0, 85))
    a = eng.open[("hot", CNC)]
    assert a.state is State.ACTIVE and a.message == "CNC lathe: spindle_temperature 85 °C is over its limit 80"
    with pytest.raises(InvalidTransition, match="cannot close alert 1 in state active"):
        eng.act(a.id, "close", "eve")
    clock.advance(30)
    eng.act(a.id, "ack", "eve", "looking at it")
    with pytest.raises(InvalidTransition, match="already acknowledged"):
        eng.act(a.id, "ack", "eve")
    clock.advance(30)
    eng.observe(temp(60, 70))
    assert a.state is State.CLEARED
    eng.act(a.id, "close", "eve", "fan replaced")
    assert ("hot", CNC) not in eng.open
    with pytest.raises(InvalidTransition, match="closed"):
        eng.act(a.id, "ack", "eve")
    assert actions(eng, a.id) == [("raise", None, "active", "rule:hot"), ("ack", "active", "acknowledged", "eve"),
                                  ("clear", "acknowledged", "cleared", "rule:hot"),
                                  ("close", "cleared", "closed", "eve")]
    ts = eng.store.transitions(a.id)
    assert ts[0].at == T0 and ts[1].at == T0 + timedelta(seconds=30) and ts[1].comment == "looking at it"
    assert [d["state"] for d in told] == ["active", "acknowledged", "cleared", "closed"]
    assert [d["state"] for d in eng.store.at(T0 + timedelta(seconds=10))] == ["active"]  # for replay
    assert [d["state"] for d in eng.store.at(T0 + timedelta(seconds=30))] == ["acknowledged"]
    assert eng.store.at(T0 - timedelta(seconds=1)) == [] and eng.store.at(clock.now()) == []

    # back to normal before anyone saw it: only an acknowledgement ends it
    eng.observe(temp(100, 90))
    b = eng.open[("hot", CNC)]
    assert b.id != a.id
    eng.observe(temp(110, 60))
    assert b.state is State.CLEARED_UNACKED
    with pytest.raises(InvalidTransition, match="acknowledge it"):
        eng.act(b.id, "close", "eve")
    eng.act(b.id, "ack", "eve")
    assert b.state is State.CLOSED

    # shelving needs a duration and suspends everything but unshelve; clearing by hand acknowledges
    eng.observe(temp(200, 90))
    c = eng.open[("hot", CNC)]
    with pytest.raises(ValueError, match="duration_s"):
        eng.act(c.id, "shelve", "eve", "sensor under repair")
    eng.act(c.id, "shelve", "eve", "sensor under repair", 600)
    assert c.state is State.SHELVED and c.shelved_until == clock.now() + timedelta(seconds=600)
    with pytest.raises(InvalidTransition, match="unshelve it first"):
        eng.act(c.id, "ack", "eve")
    eng.act(c.id, "unshelve", "eve")
    eng.act(c.id, "clear", "eve", "sensor unplugged")
    assert c.state is State.CLEARED and c.acked
    with pytest.raises(InvalidTransition, match="not shelved"):
        eng.act(c.id, "unshelve", "eve")


def test_on_delay_hysteresis_and_off_delay_run_on_source_time() -> None:
    eng = make(ManualClock(T0), rules=[HOT | {"on_delay_s": 5, "off_delay_s": 3}])
    for s, v in [(0, 81), (2, 81), (3, 79), (4, 81), (8, 81)]:  # a blip, then 4 s over: not yet
        eng.observe(temp(s, v))
    assert not eng.open
    eng.observe(temp(9, 82))  # 5 s over
    a = eng.open[("hot", CNC)]
    assert a.raised_at == T0 + timedelta(seconds=9)
    for s, v in [(10, 79), (20, 79), (21, 77.5), (23, 77.5)]:  # under the limit, then inside the deadband 2 s
        eng.observe(temp(s, v))
    assert a.condition
    eng.observe(temp(24, 77.9))  # 3 s inside the deadband
    assert not a.condition and a.cleared_at == T0 + timedelta(seconds=24)
    eng.observe(Sample(CNC, "spindle_temperature", float("nan"), "°C", T0 + timedelta(seconds=30)))
    eng.observe(Sample(CNC, "spindle_load", 99.0, "%", T0 + timedelta(seconds=30)))  # another signal
    assert len(eng.store.select()) == 1


def test_one_open_alert_per_rule_and_asset_repeats_count_occurrences() -> None:
    eng = make(ManualClock(T0))
    for s, v in [(0, 90), (1, 95), (2, 70), (3, 91)]:
        eng.observe(temp(s, v))
    [a] = eng.store.select()
    assert a.occurrences == 2 and a.state == State.ACTIVE and a.value == 91.0
    assert [x[0] for x in actions(eng, a.id)] == ["raise", "clear", "reactivate"]
    eng.observe(temp(4, 90, CNC2))
    assert {x.asset for x in eng.store.select()} == {CNC, CNC2}
    eng.act(a.id, "ack", "eve")  # acknowledged: a violation the rule sees again is annunciated again
    eng.observe(temp(5, 70))
    eng.observe(temp(6, 99))
    assert eng.by_id[a.id].state is State.ACTIVE and eng.by_id[a.id].occurrences == 3


def test_escalation_and_shelf_expiry_on_a_controllable_clock() -> None:
    clock = ManualClock(T0)
    eng = make(clock, escalation=[{"after_s": 60, "severity": "critical"}, {"after_s": 300}],
               rules=[HOT | {"escalate_to": "critical"}])
    eng.observe(temp(0, 90))
    a = eng.open[("hot", CNC)]
    clock.advance(59)
    eng.tick()
    assert a.escalation == 0 and a.severity is Severity.warning
    clock.advance(1)
    eng.tick()
    assert a.escalation == 1 and a.severity is Severity.critical
    last = eng.store.transitions(a.id)[-1]
    assert (last.action, last.who) == ("escalate", "system") and "unacknowledged for 60 s" in last.comment
    eng.act(a.id, "shelve", "eve", "known issue", 600)
    clock.advance(599)
    eng.tick()
    assert a.state is State.SHELVED and a.escalation == 1  # a shelved alert does not escalate
    clock.advance(1)
    eng.tick()
    last = eng.store.transitions(a.id)[-1]
    assert a.state is State.ACTIVE and (last.action, last.who, last.comment) == ("unshelve", "system",
                                                                                "shelving time ran out")
    clock.advance(299)  # escalation counts again from when it came back
    eng.tick()
    assert a.escalation == 1
    clock.advance(1)
    eng.tick()
    assert a.escalation == 2
    eng.act(a.id, "ack", "eve")
    clock.advance(10_000)
    eng.tick()
    assert a.escalation == 2 and eng.metrics()["raised_total"]["warning"] == 1


def test_machine_alarms_and_remaining_useful_life() -> None:
    eng = make(ManualClock(T0), rules=[
        {"id": "alarm", "type": "machine_alarm", "codes": ["E*"], "severities": {"E204": "critical"}},
        {"id": "tool", "type": "rul", "assets": ["*/cnc-1"], "signal": "tool_wear", "failure_threshold": 100,
         "horizon_s": 1800, "window_s": 3600, "every_s": 60}])
    eng.observe(Sample(CNC, "alarm_code", "none", "", T0))
    assert not eng.open
    eng.observe(Sample(CNC, "alarm_code", "E204", "", T0 + timedelta(seconds=1)))
    a = eng.open[("alarm", CNC)]
    assert a.severity is Severity.critical and a.message == "CNC lathe: machine alarm E204"
    eng.observe(Event(ROBOT, EventKind.ALARM, T0, {"alarm_code": "E402", "active": True}))
    assert eng.open[("alarm", ROBOT)].severity is Severity.warning
    eng.observe(Event(ROBOT, EventKind.ALARM, T0 + timedelta(seconds=5), {"alarm_code": "E402", "active": False}))
    eng.observe(Sample(CNC, "alarm_code", "none", "", T0 + timedelta(seconds=9)))
    assert not eng.is_active("alarm", CNC) and not eng.is_active("alarm", ROBOT)

    raised_at = None
    for minute in range(60):  # 1 % a minute from 40 %: 60 minutes of life at the start
        eng.observe(Sample(CNC, "tool_wear", 40.0 + minute, "%", T0 + timedelta(minutes=minute)))
        if raised_at is None and eng.is_active("tool", CNC):
            raised_at = minute
    assert raised_at == 30  # 30 minutes left: within the horizon
    rul = eng.open[("tool", CNC)]
    assert "reaches 100 in about 0.5 h" in eng.store.transitions(rul.id)[0].comment  # the message when raised
    assert rul.value == pytest.approx(60, abs=1)  # kept up to date while it lasts
    for minute in range(60, 72):  # a new tool: the trend starts again and the life is long
        eng.observe(Sample(CNC, "tool_wear", 0.5 * (minute - 60), "%", T0 + timedelta(minutes=minute)))
    assert not eng.is_active("tool", CNC)


def test_escalation_never_rates_an_alert_above_what_its_rule_gives() -> None:
    clock = ManualClock(T0)
    eng = make(clock, escalation=[{"after_s": 900, "severity": "critical"}],
               rules=[{"id": "tool", "type": "rul", "signal": "tool_wear", "failure_threshold": 100, "horizon_s": 1800,
                       "every_s": 1, "severity": "info"}, HOT])
    for minute in range(60):  # a tool wearing out fast: its RUL alert (info) is raised
        eng.observe(Sample(CNC, "tool_wear", 1.5 * minute, "%", T0 + timedelta(minutes=minute)))
    eng.observe(temp(3600, 90))
    assert eng.is_active("tool", CNC) and eng.is_active("hot", CNC)
    clock.advance(3600 + 1000)
    eng.tick()  # unacknowledged for 15 minutes: escalated, re-notified, but not re-rated
    tool, hot = eng.open[("tool", CNC)], eng.open[("hot", CNC)]
    assert (tool.escalation, tool.severity) == (1, Severity.info)
    assert (hot.escalation, hot.severity) == (1, Severity.warning)


def test_a_fleeting_machine_alarm_raises_no_alert_and_a_lasting_one_does() -> None:
    eng = make(ManualClock(T0), rules=[{"id": "alarm", "type": "machine_alarm", "on_delay_s": 120}])

    def code(s: float, value: str) -> Sample:
        return Sample(CNC, "alarm_code", value, "", T0 + timedelta(seconds=s))

    for s, value in ((0, "E101"), (60, "E101"), (90, "none")):  # cleared within the on-delay: a minor stop
        eng.observe(code(s, value))
    eng.observe(temp(200, 40))
    assert not eng.store.select()
    eng.observe(code(300, "E204"))
    eng.observe(temp(360, 40))
    assert not eng.store.select()
    eng.observe(temp(421, 40))  # any later record of the machine, 120 s on: still in alarm
    [alert] = eng.store.select()
    assert alert.value == "E204" and alert.condition
    eng.observe(code(500, "none"))
    assert not eng.is_active("alarm", CNC)


def test_oee_under_target_in_the_current_shift() -> None:
    boundary = (datetime.now(UTC) - timedelta(minutes=120)).replace(second=0, microsecond=0)
    cfg = config(alerts={"rules": [{"id": "oee", "type": "oee", "assets": [CNC, LINE], "target": 0.6,
                                    "min_elapsed_s": 3600, "every_s": 1e-6}]})
    perf = LinePerformance(cfg, plant(), calendar_ending_shift_at(boundary))
    twin = PlantTwin(plant(), listeners=[perf.observe])
    t0 = boundary - timedelta(minutes=1)
    for e in [state(0, "producing", t0=t0), parts(5, 10, t0=t0), state(10, "down", t0=t0)]:
        twin.apply(e)
    perf.alerts.tick()
    a = perf.alerts.open[("oee", CNC)]
    assert a.severity is Severity.info and "under its target 60%" in a.message and a.value < 0.1
    twin.apply(parts(20, 400, t0=t0))
    perf.alerts.tick()
    assert not perf.alerts.is_active("oee", CNC)


def test_restart_recovers_open_alerts_states_shelves_and_transitions(tmp_path: Path,
                                                                     mosquitto: mqtt.BrokerConfig) -> None:
    cfg = config(broker=mosquitto.model_dump(), database=str(tmp_path / "twin.db"),
                 alerts={"rules": [HOT, {"id": "alarm", "type": "machine_alarm"}]})
    app = create_app(cfg, served_plant())
    for r in [temp(0, 90, S_CNC), temp(0, 90, S_CNC2), Sample(S_ROBOT, "alarm_code", "E402", "", T0)]:
        services_of(app).twin.apply(r)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth(), timeout=5) as api:
        ids = {a["asset"]: a["id"] for a in api.get("/api/alerts").json()}
        assert api.post(f"/api/alerts/{ids[S_CNC]}/ack", json={"comment": "seen"}).status_code == 200
        r = api.post(f"/api/alerts/{ids[S_CNC2]}/shelve", json={"comment": "probe swap", "duration_s": 3600})
        assert r.status_code == 200, r.text
        before = {i: api.get(f"/api/alerts/{i}").json() for i in ids.values()}

    again = create_app(cfg, served_plant())  # the same database file
    eng = services_of(again).alerts
    assert {(a.asset, a.state) for a in eng.by_id.values()} == {(S_CNC, "acknowledged"), (S_CNC2, "shelved"),
                                                                (S_ROBOT, "active")}
    services_of(again).twin.apply(temp(100, 60, S_CNC))  # the recovered alert is still known active: its end is seen
    with ServedApp(again) as served, httpx.Client(base_url=served.url, headers=auth(), timeout=5) as api:
        after = {i: api.get(f"/api/alerts/{i}").json() for i in ids.values()}
        assert after[ids[S_CNC2]] == before[ids[S_CNC2]] and after[ids[S_ROBOT]] == before[ids[S_ROBOT]]
        assert after[ids[S_CNC]]["state"] == "cleared"
        assert after[ids[S_CNC]]["transitions"][:2] == before[ids[S_CNC]]["transitions"]
        assert after[ids[S_CNC2]]["shelved_until"] is not None
        assert api.post(f"/api/alerts/{ids[S_CNC]}/close", json={}).status_code == 200


# ---- notifications ------------------------------------------------------------------------------------------


class Hook(ThreadingHTTPServer):
    """A webhook receiver on loopback that answers 503 to its first `fail_first` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first, self.log = fail_first, []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hook.lock:
                    code = 503 if len(hook.log) < hook.fail_first else 200
                    hook.log.append((code, json.loads(body), self.headers.get("Authorization")))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/alerts"

    def delivered(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for code, body, _ in self.log if code == 200]


@contextmanager
def hook_server(fail_first: int = 0) -> Iterator[Hook]:
    server = Hook(fail_first)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


async def until(condition: Callable[[], Any], within_s: float, what: str) -> None:
    """Poll on the loop (notifications are sent by its tasks) until `condition` holds; fail at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.01)


def notifying(clock: ManualClock, targets: list[dict[str, Any]], **alerts: Any) -> AlertEngine:
    cfg = AlertsConfig.model_validate({"rules": [HOT], "notify": targets, "retry": FAST_RETRY} | alerts)
    notifier = Notifier(cfg.notify, cfg.retry, cfg.queue, mqtt.BrokerConfig(), "alerts-test",
                        env={"MES_TOKEN": "Bearer s3cret"})
    return AlertEngine(cfg, plant(), TwinDatabase(":memory:"), clock, notifier)


def test_webhook_notifications_are_retried_and_failures_counted() -> None:
    dead = f"http://127.0.0.1:{free_port()}/alerts"  # nothing listens there
    with hook_server(fail_first=2) as hook:
        eng = notifying(ManualClock(T0), [
            {"name": "mes", "type": "webhook", "url": hook.url, "headers_env": {"Authorization": "MES_TOKEN"}},
            {"name": "gone", "type": "webhook", "url": dead, "timeout_s": 1}])
        notifier = eng.notifier
        assert notifier is not None

        async def run() -> None:
            await notifier.start()
            try:
                eng.observe(temp(0, 90))
                assert notifier.sent["mes"] == 0 and notifier.status()[0]["queued"] == 1  # queued, not sent inline
                await until(lambda: notifier.sent["mes"] == 1 and notifier.failed["gone"] == 1, 20, "deliveries")
            finally:
                await notifier.stop()

        asyncio.run(run())
        assert [code for code, _, _ in hook.log] == [503, 503, 200] and hook.log[-1][2] == "Bearer s3cret"
    [body] = hook.delivered()
    assert body["event"] == "raised" and body["alert"]["asset"] == CNC and body["alert"]["state"] == "active"
    assert notifier.retries["mes"] == 2 and notifier.retries["gone"] == 3
    log = {n["target"]: n for n in eng.store.notifications()}
    assert log["mes"]["ok"] and log["mes"]["attempts"] == 3
    assert not log["gone"]["ok"] and log["gone"]["attempts"] == 4 and "ConnectError" in log["gone"]["error"]
    status = {s["target"]: s for s in eng.summary()["notifications"]}
    assert status["gone"]["failed"] == 1 and status["gone"]["last_error"]
    assert eng.metrics()["notifications_failed_total"] == {"gone": 1}


def test_mqtt_notifications(mosquitto: mqtt.BrokerConfig) -> None:
    got: list[tuple[str, dict[str, Any]]] = []
    sub = mqtt.make_client(mosquitto, "alerts-test-subscriber")
    sub.on_connect = lambda c, *_: c.subscribe("alerts-test/#", qos=1)
    sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    mqtt.start(sub, mosquitto)
    try:
        wait_until(sub.is_connected, 10, "the subscriber to connect")
        eng = notifying(ManualClock(T0), [{"name": "andon", "type": "mqtt", "broker": mosquitto.model_dump(),
                                           "topic": "alerts-test/{severity}/{asset}"}])
        notifier = eng.notifier
        assert notifier is not None

        async def run() -> None:
            await notifier.start()
            try:
                eng.observe(temp(0, 90))
                await until(lambda: got, 15, "the alert on MQTT")
            finally:
                await notifier.stop()

        asyncio.run(run())
    finally:
        mqtt.stop(sub)
    [(topic, body)] = got
    assert topic == f"alerts-test/warning/{CNC}" and body["event"] == "raised" and body["alert"]["rule"] == "hot"


def test_alert_floods_are_rate_limited_and_summarised() -> None:
    clock = ManualClock(T0)
    rules = [HOT, {"id": "alarm", "type": "machine_alarm", "severities": {"E204": "critical"}}]
    with hook_server() as hook:
        eng = notifying(clock, [{"name": "mes", "type": "webhook", "url": hook.url}], rules=rules,
                        flood={"window_s": 60, "max_notifications": 3})
        notifier = eng.notifier
        assert notifier is not None
        stations = [a.path for a in plant().assets() if a.type not in ("buffer", "agv", "inspection_station")]
        inspect = f"{LINE}/quality/inspect-1"

        async def run() -> None:
            await notifier.start()
            try:
                for s in stations:  # five machine alarms at once, then three hot spindles
                    eng.observe(Sample(s, "alarm_code", "E101", "", T0))
                for s in (CNC, CNC2, f"{LINE}/milling/cnc-3"):
                    eng.observe(temp(1, 90, s))
                assert eng.summary()["flood"]["flooding"]
                eng.observe(Sample(inspect, "alarm_code", "E204", "", T0 + timedelta(seconds=2)))  # critical: sent
                clock.advance(61)
                eng.tick()
                await until(lambda: len(hook.delivered()) == 6, 10, "six notifications")
            finally:
                await notifier.stop()

        asyncio.run(run())
        events = [(b["event"], b["severity"]) for b in hook.delivered()]
    assert events == [("raised", "warning")] * 3 + [("flood_started", "warning"), ("raised", "critical"),
                                                      ("flood_ended", "warning")]
    assert len(stations) == 5
    summary = hook.delivered()[-1]["summary"]
    assert summary["suppressed_total"] == 5 and summary["suppressed"] == {"warning": 5}
    flood = eng.summary()["flood"]
    assert not flood["flooding"] and flood["floods"] == 1 and eng.metrics()["notifications_suppressed_total"] == 5


def test_escalation_reaches_the_named_target_only_and_cleared_alerts_auto_close() -> None:
    clock = ManualClock(T0)
    with hook_server() as mes, hook_server() as pager:
        eng = notifying(clock, [{"name": "mes", "type": "webhook", "url": mes.url},
                                {"name": "pager", "type": "webhook", "url": pager.url, "escalation_only": True}],
                        escalation=[{"after_s": 60, "severity": "critical", "notify": ["pager"]}], auto_close_s=300,
                        rules=[HOT | {"escalate_to": "critical"}])
        notifier = eng.notifier
        assert notifier is not None

        async def run() -> None:
            await notifier.start()
            try:
                eng.observe(temp(0, 90))
                await until(lambda: mes.delivered(), 10, "the alert at the MES")
                clock.advance(60)
                eng.tick()
                await until(lambda: pager.delivered(), 10, "the escalation at the pager")
                a = eng.open[("hot", CNC)]
                eng.act(a.id, "ack", "eve")
                eng.observe(temp(10, 60))
                await until(lambda: len(mes.delivered()) == 2, 10, "the clearing at the MES")
                clock.advance(299)
                eng.tick()
                assert a.state is State.CLEARED
                clock.advance(1)
                eng.tick()
                assert a.state is State.CLOSED and eng.store.transitions(a.id)[-1].who == "system"
            finally:
                await notifier.stop()

        asyncio.run(run())
        assert [b["event"] for b in mes.delivered()] == ["raised", "cleared"]
        [page] = pager.delivered()
        assert page["event"] == "escalated" and page["severity"] == "critical" and page["alert"]["escalation"] == 1


# ---- the API ------------------------------------------------------------------------------------------------


def test_api_actions_roles_scopes_filters_and_csv(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    scoped = {"name": "line2-viewer", "role": "viewer", "key_env": "FT_TEST_SCOPED_KEY",
              "scope": [f"{SERVED}/plant1/machining/line2"]}
    cfg = config(broker=mosquitto.model_dump(), database=str(tmp_path / "twin.db"), alerts={"rules": [HOT]},
                 auth={"api_keys": [*AUTH_CONFIG["api_keys"], scoped]})
    app = create_app(cfg, served_plant(), env={**os.environ, "FT_TEST_SCOPED_KEY": "scoped-key-0123456789"})
    services_of(app).twin.apply(temp(0, 90, S_CNC))
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth(), timeout=5) as api:
        [a] = api.get("/api/alerts").json()
        url = f"/api/alerts/{a['id']}"
        assert httpx.post(served.url + url + "/ack", json={}).status_code == 401
        assert api.post(url + "/ack", json={}, headers=auth("viewer")).status_code == 403
        r = api.post(url + "/close", json={"comment": "done"})
        assert r.status_code == 409 and "cannot close alert" in r.json()["detail"]
        assert "duration_s" in api.post(url + "/shelve", json={"comment": "x"}).json()["detail"]
        assert "comment" in api.post(url + "/shelve", json={"duration_s": 60}).json()["detail"]
        assert api.post(url + "/nope", json={}).status_code == 422
        with ws_client.connect(f"ws://127.0.0.1:{served.port}/api/ws?asset={S_LINE}&token={API_KEYS['viewer']}") as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
            r = api.post(url + "/ack", json={"comment": "on it"})
            pushed = json.loads(ws.recv(timeout=10))  # the change reaches the live stream
        assert [(x["id"], x["state"]) for x in pushed["alerts"]] == [(a["id"], "acknowledged")]
        assert r.status_code == 200 and r.json()["state"] == "acknowledged"
        assert r.json()["transitions"][-1] | {"at": None} == {"at": None, "action": "ack", "from": "active",
                                                              "to": "acknowledged", "who": "test-engineer",
                                                              "comment": "on it"}
        assert len(api.get("/api/alerts", params={"state": "acknowledged"}).json()) == 1
        assert len(api.get("/api/alerts", params={"state": "open"}).json()) == 1
        assert api.get("/api/alerts", params={"state": "active"}).json() == []
        assert api.get("/api/alerts", params={"state": "bogus"}).status_code == 422
        assert api.get("/api/alerts", params={"severity": "critical"}).json() == []
        assert len(api.get("/api/alerts", params={"asset": S_LINE}).json()) == 1
        assert api.get("/api/alerts", params={"asset": S_LINE + "x"}).json() == []
        assert api.get("/api/alerts", params={"since": "2100-01-01T00:00:00Z"}).json() == []
        assert api.get("/api/alerts/999").status_code == 404
        summary = api.get("/api/alerts/summary").json()
        assert summary["by_state"]["acknowledged"] == 1 and summary["open"] == 1
        assert summary["flood"]["flooding"] is False and summary["metrics"]["raised_total"]["warning"] == 1
        csv = api.get("/api/alerts", params={"format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv")
        header, row = csv.text.strip().splitlines()
        assert header.startswith("id,rule,kind,asset,severity") and row.startswith(f"{a['id']},hot,threshold,{S_CNC}")

        other = {"Authorization": "Bearer scoped-key-0123456789"}
        assert api.get("/api/alerts", headers=other).json() == []
        assert api.get(url, headers=other).status_code == 404
        assert api.get("/api/alerts/summary", headers=other).json()["open"] == 0


def test_alert_config_errors_name_the_key_path(tmp_path: Path) -> None:
    text = """plant: demo-plant.yaml
alerts:
  rules:
    - {id: hot, type: threshold, signal: spindle_temperature}
    - {id: t2, type: threshold, signal: x, high: 1, message: "{asset} {nope}"}
    - {id: t3, type: thresh}
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text, TwinConfig, "twin.yaml")
    msg = str(err.value)
    assert "alerts.rules[0].threshold (line 4): give high, low or both" in msg
    assert "alerts.rules[1].message (line 5): unknown field(s) ['nope']" in msg
    assert "alerts.rules[2] (line 6)" in msg and "threshold" in msg
    path = tmp_path / "twin.yaml"
    path.write_text(f"plant: {PROJECT / 'configs' / 'demo-plant.yaml'}\nalerts:\n  rules:\n"
                    "    - {id: grip, type: threshold, assets: ['*/cnc-*'], signal: gripper_pressure, low: 5}\n"
                    "    - {id: none, type: machine_alarm, assets: ['*/press-*']}\n"
                    "  escalation: [{after_s: 60, notify: [pager]}]\n")
    with pytest.raises(ConfigError) as err:
        load_twin(path)
    assert "escalation[0].notify (line 6): no target named ['pager']" in str(err.value)
    path.write_text(path.read_text().replace("  escalation: [{after_s: 60, notify: [pager]}]\n", ""))
    with pytest.raises(ConfigError) as err:
        load_twin(path)
    msg = str(err.value)
    assert "alerts.rules[0] (grip).signal: none of the matched assets (cnc_machine) has a signal" in msg
    assert "alerts.rules[1] (none).assets: ['*/press-*'] match no asset" in msg
    cfg = config(database=str(tmp_path / "twin.db"), alerts={"notify": [
        {"name": "mes", "type": "webhook", "url": "http://127.0.0.1:9/x", "headers_env": {"X-Token": "FT_NOPE"}}]})
    with pytest.raises(AuthError, match=r"alerts.notify \(mes\).headers_env: environment variable\(s\) FT_NOPE"):
        create_app(cfg, plant(), env={k: v for k, v in os.environ.items() if k != "FT_NOPE"})


def test_alerts_bench_writes_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "alerts", "--samples", "5000",
                             "--notifications", "5", "--json", str(out)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert {"us_per_sample", "samples_per_s", "transitions", "us_per_persisted_transition"} <= set(data["engine"])
    assert data["engine"]["transitions"] > 0 and data["webhook_latency"]["p50_ms"] > 0
    assert data["mqtt_latency"]["p50_ms"] > 0


def test_an_open_anomaly_alert_sounds_again_for_a_signal_that_comes_to_lead_it() -> None:
    """A worn bearing keeps a machine's anomaly alert open, led by vibration; a speed sensor that then drifts and
    comes to lead the score is one more occurrence (and annunciated again once the alert was acknowledged). A
    signal that led it before, or one that is only second, adds nothing."""
    eng = AlertEngine(AlertsConfig(), plant(), TwinDatabase(":memory:"), ManualClock(T0))

    def row(s: int, *signals: str) -> None:
        eng.anomaly(CNC, T0 + timedelta(seconds=s), True, 5.0, 1.0, list(signals))

    row(0, "vibration_rms")
    row(1, "vibration_rms", "power")
    [alert] = eng.by_id.values()
    assert alert.occurrences == 1
    row(2, "spindle_speed", "vibration_rms")
    assert alert.occurrences == 2 and "spindle_speed" in alert.message
    row(3, "vibration_rms")
    row(4, "spindle_speed")
    assert alert.occurrences == 2
    eng.act(alert.id, "ack", "operator")
    row(5, "power")
    assert alert.occurrences == 3 and alert.state is State.ACTIVE  # annunciated again
    eng.anomaly(CNC, T0 + timedelta(seconds=6), False, 0.1, 1.0, [])
    row(7, "spindle_speed")  # a new episode: its first leader raises it, no more
    assert alert.occurrences == 4


def test_an_open_anomaly_alert_sounds_again_when_its_score_rises_anew() -> None:
    """A worn bearing holds a machine's anomaly alert open for hours, its score creeping up as it wears, and led
    by the spindle's temperature. A coolant loss then lifts that same signal, and the score to five times its
    level within minutes: one more occurrence, once, however long the loss goes on climbing. The creep adds
    none, nor does the score coming back after the machine stood for hours (no rows, no scores). With
    `rise_factor: null` only a new leading signal would sound it again."""
    rule = {"id": "anomaly", "type": "anomaly", "assets": ["*"], "critical_ratio": None}

    def run(**extra: Any) -> tuple[AlertEngine, list[int]]:
        eng = AlertEngine(AlertsConfig.model_validate({"rules": [rule | extra]}), plant(), TwinDatabase(":memory:"),
                          ManualClock(T0))
        t, counts = 0, []

        def rows(n: int, start: float, end: float) -> None:
            nonlocal t
            for i in range(n):
                eng.anomaly(CNC, T0 + timedelta(seconds=t), True, start + (end - start) * i / n, 1.0,
                            ["spindle_temperature", "vibration_rms"])
                t += 1
                if eng.by_id[1].detail["risen"] is not None:
                    risen.append(eng.by_id[1].detail["risen"])
            counts.append(eng.by_id[1].occurrences)

        rows(4 * 3600, 2.0, 4.0)  # four hours of wear creeping up
        t += 12 * 3600  # the machine stands overnight
        rows(600, 1.0, 4.0)  # the chart builds up again after the restart
        rows(3600, 4.0, 4.2)
        rows(900, 4.2, 21.0)  # coolant loss: the temperature climbs over a quarter of an hour
        rows(3600, 21.0, 40.0)  # and goes on climbing
        return eng, counts

    risen: list[float] = []
    assert run()[1] == [1, 1, 1, 2, 2]
    assert len(risen) == 1 and risen[0] >= 3.0  # how far above its reference the score rose, in the detail
    assert run(rise_factor=None)[1] == [1, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="rise_lookback_s"):
        AlertsConfig.model_validate({"rules": [rule | {"rise_recent_s": 3600, "rise_lookback_s": 1800}]})


def test_an_open_anomaly_alert_sounds_again_when_one_signals_part_rises_anew() -> None:
    """A worn bearing holds a machine's anomaly alert open, its score 60-90× the threshold and led by the spindle's
    temperature. The spindle load's sensor then drifts over two hours: its own part of the score climbs from
    noise to 15× the threshold, while the whole score rises by a third, far from a fresh rise of its own. One
    more occurrence, once, naming the signal. A part that wanders up ninefold without reaching the threshold
    alone adds none; nor does anything with `rise_per_signal: false`."""
    rule = {"id": "anomaly", "type": "anomaly", "assets": ["*"], "critical_ratio": None}

    def run(**extra: Any) -> tuple[list[int], list[str]]:
        eng = AlertEngine(AlertsConfig.model_validate({"rules": [rule | extra]}), plant(), TwinDatabase(":memory:"),
                          ManualClock(T0))
        t, counts, named = 0, [], []

        def rows(n: int, score: tuple[float, float], load: tuple[float, float], power: tuple[float, float]) -> None:
            nonlocal t
            for i in range(n):
                f = i / n
                s, ld, pw = (a + (b - a) * f for a, b in (score, load, power))
                parts = {"spindle_temperature": 0.9 * s, "vibration_rms": 0.1 * s, "spindle_load": ld, "power": pw}
                eng.anomaly(CNC, T0 + timedelta(seconds=t), True, s, 1.0, ["spindle_temperature", "vibration_rms"],
                            parts)
                t += 1
                if (name := eng.by_id[1].detail["risen_signal"]) is not None:
                    named.append(name)
            counts.append(eng.by_id[1].occurrences)

        rows(4 * 3600, (60.0, 70.0), (0.2, 0.2), (0.1, 0.1))  # the bearing wears; load and power are noise
        rows(2 * 3600, (70.0, 70.0), (0.2, 0.2), (0.1, 0.9))  # power wanders up, below the threshold alone
        rows(2 * 3600, (70.0, 90.0), (0.2, 15.0), (0.9, 0.9))  # the load sensor drifts
        return counts, named

    counts, named = run()
    assert counts == [1, 1, 2] and set(named) == {"spindle_load"}
    assert run(rise_per_signal=False)[0] == [1, 1, 1]
