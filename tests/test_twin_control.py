"""Commands to equipment with a human in the loop, end to end: the twin's API, the four-eyes rule, the audit
log, and the simulated line's OPC-UA server obeying (or refusing) what was approved."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import AUTH_CONFIG, PROJECT, ServedApp, auth, free_port, wait_until

from plantmodel.config import parse_config
from plantmodel.plant import PlantConfig
from simulators.flow.line import FlowLine
from simulators.live_line import LineModel
from simulators.opcua_server import PlantServer
from simulators.realtime import run_paced
from twin.config import TwinConfig
from twin.main import create_app

ENTERPRISE = "ctltest"
LINE = f"{ENTERPRISE}/plant1/machining/line1"
CNC1, CNC2, CNC3 = f"{LINE}/turning/cnc-1", f"{LINE}/milling/cnc-2", f"{LINE}/milling/cnc-3"
SECOND = {"FT_ENGINEER2_KEY": "second-engineer-key"}
ENGINEER2 = {"Authorization": "Bearer second-engineer-key"}
COMMANDS = [
    {"name": "reduce_speed", "assets": ["*/cnc-*"], "kind": "write", "browse_name": "speed_override",
     "value": "double", "min": 50, "max": 100, "description": "feed-rate override, percent"},
    {"name": "stop_for_maintenance", "assets": ["*/cnc-*"], "kind": "method", "browse_name": "StopForMaintenance",
     "value": "double", "min": 60, "max": 28800},
    {"name": "reset_alarm", "assets": ["*/cnc-*", "*/robot-*"], "kind": "method", "browse_name": "ResetAlarm"},
]


def plant() -> PlantConfig:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text()
    text = text.replace("enterprise: acme", f"enterprise: {ENTERPRISE}")
    # cnc-1 fails on every part and waits for a repair that never ends by itself: only a reset gets it going.
    text = text.replace("sim: {cycle_time_s: 38, mtbf_s: 1800, mttr_s: 180,",
                        "sim: {cycle_time_s: 38, failures: [{reason: E101, basis: cycles, ttf: 1, ttr: 1000000}],")
    return parse_config(text, PlantConfig)


class SimulatedLine:
    """The demo line's model behind the simulator's OPC-UA server, paced in real time in its own thread."""

    def __init__(self, model_plant: PlantConfig) -> None:
        line = model_plant.lines()[0]
        self.model = LineModel(line)
        self.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/factory-twin/"
        self.server = PlantServer([a for a in line.assets() if a.config.sim.interface == "opcua"], self.endpoint,
                                  controls=self.model.controls())
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)

    async def _run(self) -> None:
        self.stop = asyncio.Event()
        await self.server.start(self.model.snapshot())
        self.started.set()

        async def publish(samples: list[Any]) -> None:
            await self.server.publish(samples)
        try:
            await run_paced([self.model], publish, self.stop)
        finally:
            await self.server.stop()

    def station(self, path: str) -> Any:
        return self.model.controls()[path]

    def __enter__(self) -> SimulatedLine:
        self.thread.start()
        assert self.started.wait(15), "the simulator's OPC-UA server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)
        self.loop.close()


def app_for(tmp_path: Path, broker: Any, endpoint: str, ttl_s: float = 900) -> Any:
    keys = {"api_keys": [*AUTH_CONFIG["api_keys"],
                         {"name": "test-engineer-2", "role": "engineer", "key_env": "FT_ENGINEER2_KEY"}]}
    cfg = TwinConfig.model_validate({
        "plant": "demo-plant.yaml", "broker": broker.model_dump(), "database": str(tmp_path / "twin.db"),
        "auth": keys, "control": {"endpoint": endpoint, "request_ttl_s": ttl_s, "timeout_s": 2,
                                  "commands": COMMANDS}})
    return create_app(cfg, plant(), env={**os.environ, **SECOND})


@pytest.fixture
def line() -> Iterator[SimulatedLine]:
    with SimulatedLine(plant()) as simulated:
        yield simulated


def ask(c: httpx.Client, asset: str, command: str, value: Any = None, **headers: Any) -> httpx.Response:
    body = {"asset": asset, "command": command, "reason": "test"} | ({"value": value} if value is not None else {})
    return c.post("/api/commands", json=body, **headers)


def test_an_approved_command_reaches_the_machine_and_everything_is_audited(
        tmp_path: Path, mosquitto: Any, line: SimulatedLine) -> None:
    app = app_for(tmp_path, mosquitto, line.endpoint)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        allowed = c.get("/api/commands/allowed", params={"asset": CNC2}, headers=auth("viewer")).json()
        assert [a["name"] for a in allowed] == ["reduce_speed", "stop_for_maintenance", "reset_alarm"]
        slow = ask(c, CNC2, "reduce_speed", 50)
        assert slow.status_code == 201 and slow.json()["state"] == "pending", slow.text
        cid = slow.json()["id"]
        assert line.station(CNC2).speed_override == 100.0  # nothing happens before the approval
        own = c.post(f"/api/commands/{cid}/approve", json={"comment": "mine"})
        assert own.status_code == 403 and "another engineer" in own.text
        assert c.post(f"/api/commands/{cid}/approve", json={"comment": "x"}, headers=auth("viewer")).status_code == 403
        done = c.post(f"/api/commands/{cid}/approve", json={"comment": "ok, bearing is hot"}, headers=ENGINEER2)
        assert done.status_code == 200, done.text
        assert done.json() | {"state": "executed", "status": "Good", "decided_by": "test-engineer-2"} == done.json()
        assert line.station(CNC2).speed_override == 50.0 and line.station(CNC2).station.speed == 0.5
        again = c.post(f"/api/commands/{cid}/approve", json={"comment": "twice"}, headers=ENGINEER2)
        assert again.status_code == 409

        wait_until(lambda: line.station(CNC1).alarm_code == "E101", 10, "cnc-1's alarm")
        reset = ask(c, CNC1, "reset_alarm").json()["id"]
        outcome = c.post(f"/api/commands/{reset}/approve", json={"comment": "go"}, headers=ENGINEER2).json()
        assert outcome["state"] == "executed" and outcome["result"] is True
        wait_until(lambda: line.station(CNC1).alarm_code == "none", 5, "the alarm to clear")
        # The equipment's own refusal is recorded with its OPC-UA status: cnc-3 has no alarm to reset.
        nothing = ask(c, CNC3, "reset_alarm").json()["id"]
        refused = c.post(f"/api/commands/{nothing}/approve", json={"comment": "go"}, headers=ENGINEER2).json()
        assert refused["state"] == "failed" and refused["status"] == "BadInvalidState"

        stop = ask(c, CNC3, "stop_for_maintenance", 600).json()["id"]
        assert c.post(f"/api/commands/{stop}/approve", json={"comment": "go"},
                      headers=ENGINEER2).json()["state"] == "executed"
        wait_until(lambda: line.station(CNC3).state == "planned_stop", 60, "cnc-3 to stop for maintenance")

        declined = ask(c, CNC2, "reduce_speed", 60, headers=ENGINEER2).json()["id"]
        rejected = c.post(f"/api/commands/{declined}/reject", json={"comment": "not now"})
        assert rejected.json()["state"] == "rejected" and line.station(CNC2).speed_override == 50.0

        assert c.get("/api/audit", headers=auth("viewer")).status_code == 403
        audit = c.get("/api/audit", params={"command_id": cid}).json()
        commands = c.get("/api/commands", headers=auth("viewer")).json()
    assert [(e["action"], e["who"]) for e in reversed(audit)] == [
        ("requested", "test-engineer"), ("refused", "test-engineer"), ("approved", "test-engineer-2"),
        ("executed", "test-engineer-2")]
    assert audit[1]["comment"] == "ok, bearing is hot" and audit[0]["result"]["status"] == "Good"
    assert "another engineer must approve" in audit[2]["comment"]
    assert audit[0]["value"] == 50.0 and audit[0]["asset"] == CNC2
    assert [c["state"] for c in commands] == ["rejected", "executed", "failed", "executed", "executed"]
    db = sqlite3.connect(tmp_path / "twin.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_log SET who = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_log")
    db.close()


def test_requests_outside_the_allow_list_are_refused_naming_the_field(tmp_path: Path, mosquitto: Any) -> None:
    app = app_for(tmp_path, mosquitto, "opc.tcp://127.0.0.1:1/none/")
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth()) as c:
        cases = [(ask(c, CNC2, "reduce_speed", 120), "value", "outside the allowed range 50.0 .. 100.0"),
                 (ask(c, CNC2, "reduce_speed"), "value", "needs a value"),
                 (ask(c, CNC2, "reset_alarm", 1), "value", "takes no value"),
                 (ask(c, CNC2, "self_destruct"), "command", "not in the allow-list"),
                 (ask(c, f"{LINE}/turning/buf-1", "reduce_speed", 60), "asset", "not allowed on"),
                 (ask(c, f"{LINE}/nowhere", "reduce_speed", 60), "asset", "not an asset")]
        for response, field, text in cases:
            assert response.status_code == 422, response.text
            detail = response.json()["detail"][0]
            assert detail["loc"] == ["body", field] and text in detail["msg"], detail
        assert ask(c, CNC2, "reduce_speed", 60, headers=auth("viewer")).status_code == 403
        assert c.post("/api/commands", json={"asset": CNC2, "command": "reset_alarm"}).status_code == 422  # reason
        assert c.get("/api/commands").json() == []


def test_unapproved_requests_expire_and_unreachable_equipment_fails_cleanly(tmp_path: Path, mosquitto: Any) -> None:
    dead = f"opc.tcp://127.0.0.1:{free_port()}/none/"
    with ServedApp(app_for(tmp_path, mosquitto, dead, ttl_s=0.3)) as served, \
            httpx.Client(base_url=served.url, headers=auth()) as c:
        stale = ask(c, CNC2, "reduce_speed", 60).json()["id"]
        wait_until(lambda: c.get(f"/api/commands/{stale}").json()["state"] == "expired", 5, "the request to expire")
        late = c.post(f"/api/commands/{stale}/approve", json={"comment": "late"}, headers=ENGINEER2)
        assert late.status_code == 409 and "expired" in late.text
    with ServedApp(app_for(tmp_path, mosquitto, dead)) as served, \
            httpx.Client(base_url=served.url, headers=auth()) as c:
        cid = ask(c, CNC2, "reduce_speed", 60).json()["id"]
        failed = c.post(f"/api/commands/{cid}/approve", json={"comment": "go"}, headers=ENGINEER2).json()
        assert failed["state"] == "failed" and failed["status"] == "BadCommunicationError"
        audit = c.get("/api/audit").json()  # the first service's entries survived its restart
    assert [(e["command_id"], e["action"], e["who"]) for e in reversed(audit)] == [
        (stale, "requested", "test-engineer"), (stale, "expired", "system"),
        (cid, "requested", "test-engineer"), (cid, "approved", "test-engineer-2"), (cid, "failed", "test-engineer-2")]


def test_the_speed_override_stretches_every_cycle() -> None:
    flow_plant = parse_config("""
enterprise: e
sites: [{id: s, areas: [{id: a, lines: [{id: l, flow: [m1, b1, m2], cells: [{id: c, assets: [
  {id: m1, type: cnc_machine, ideal_cycle_time_s: 10, sim: {cycle_time: 10}},
  {id: b1, type: buffer, capacity: 2},
  {id: m2, type: cnc_machine, ideal_cycle_time_s: 20, sim: {cycle_time: 20}}]}]}]}]}]
""", PlantConfig)
    normal, slowed = FlowLine(flow_plant.lines()[0], seed=1), FlowLine(flow_plant.lines()[0], seed=1)
    slowed.stations[1].speed = 0.5
    assert normal.run(hours=1)["throughput_per_hour"] == 179.0
    assert slowed.run(hours=1)["throughput_per_hour"] == 89.0  # a 40 s cycle after the first 10 s


def test_a_control_config_naming_no_asset_or_an_impossible_command_is_refused(tmp_path: Path) -> None:
    from plantmodel.config import ConfigError
    from twin.config import load_twin

    (tmp_path / "demo-plant.yaml").write_text((PROJECT / "configs" / "demo-plant.yaml").read_text())
    twin_yaml = tmp_path / "twin.yaml"
    twin_yaml.write_text("plant: demo-plant.yaml\ncontrol:\n  endpoint: opc.tcp://127.0.0.1:4840/\n  commands:\n"
                         "    - {name: reset_alarm, assets: ['*/lathe-*'], kind: method, browse_name: ResetAlarm}\n")
    with pytest.raises(ConfigError, match=r"control\.commands\[0\]\.assets: \['\*/lathe-\*'\] match no asset"):
        load_twin(twin_yaml)
    twin_yaml.write_text("plant: demo-plant.yaml\ncontrol:\n  endpoint: opc.tcp://127.0.0.1:4840/\n  commands:\n"
                         "    - {name: reduce_speed, assets: ['*'], kind: write, browse_name: speed_override}\n")
    with pytest.raises(ConfigError, match=r"control\.commands\[0\] \(line 5\): a write needs value"):
        load_twin(twin_yaml)
