"""The whole path, each part in its own process, on free loopback ports:

simulator (asyncua server + AGV over MQTT) -> mosquitto -> edge agent -> historian + UNS -> twin over HTTP.
The simulator records every value it put on the wire; everything it recorded must be stored, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
import pytest
from support import PROJECT, Child, auth, free_port, stop_all, wait_until

from edge_agent.quarantine import Quarantine
from historian import SqliteHistorian
from plantmodel.mqtt import BrokerConfig
from plantmodel.telemetry import Sample
from plantmodel.uns import format_ts

SPEED = 20.0  # simulated seconds per wall second: parts, failures and state changes within seconds
DURATION_S = 8.0
INJECTED = "agv-test"  # a device only this test publishes as, kept apart from the simulator's record


@dataclass
class Stack:
    workdir: Path
    record: Path
    history: Path
    quarantine: Path
    broker: BrokerConfig
    twin_url: str
    children: list[Child]

    def produced(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.record.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def stack(mosquitto: BrokerConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    opcua_port, http_port = free_port(), free_port()
    origin = format_ts(datetime.now(UTC))  # plant time begins now and runs SPEED times faster, for every part
    env = {"FT_MQTT_HOST": "127.0.0.1", "FT_MQTT_PORT": str(mosquitto.port),
           "FT_OPCUA_ENDPOINT": f"opc.tcp://127.0.0.1:{opcua_port}/factory-twin/",
           "FT_DATA_DIR": str(workdir / "agent"), "FT_HTTP_PORT": str(http_port),
           "FT_PLANT_SPEED": str(SPEED), "FT_PLANT_ORIGIN": origin}
    record = workdir / "produced.jsonl"
    children = [
        Child("sim", ["sim", "serve", str(PROJECT / "configs" / "demo-plant.yaml"), "--opcua-port", str(opcua_port),
                      "--mqtt-port", str(mosquitto.port), "--speed", str(SPEED), "--origin", origin,
                      "--duration", str(DURATION_S),
                      "--record", str(record), "--start-on-subscribe", "60"], workdir),
        Child("agent", ["edge", "run", str(PROJECT / "configs" / "edge-demo.yaml")], workdir, env),
        Child("twin", ["twin", "serve", str(PROJECT / "configs" / "twin-demo.yaml")], workdir, env),
    ]
    stack = Stack(workdir, record, workdir / "agent" / "history.db", workdir / "agent" / "quarantine.db",
                  mosquitto, f"http://127.0.0.1:{http_port}", children)
    try:
        wait_until(record.exists, 90, "the simulator to finish its bounded run")
        yield stack
    finally:
        stop_all(children)


def _key(asset: str, signal: str, ts: str, value: Any) -> tuple[str, str, str, Any]:
    return (asset, signal, ts, value)


def test_every_produced_sample_is_stored_once(stack: Stack) -> None:
    produced = stack.produced()
    assert len(produced) > 2000, "the bounded run should put thousands of samples on the wire"
    expected = {_key(p["asset"], p["signal"], p["ts"], p["value"]) for p in produced}
    assert len(expected) == len(produced), "the simulator stamped two values of one signal alike"

    history = SqliteHistorian(stack.history, readonly=True)
    try:
        def plant_samples() -> list[Sample]:  # not the agent's own telemetry
            return [s for s in history.samples(asset="acme/*") if not s.asset.endswith(INJECTED)]

        wait_until(lambda: len(plant_samples()) >= len(produced), 30, f"{len(produced)} samples in the historian")
        stored = plant_samples()
        events = history.events()
    finally:
        history.close()
    got = {_key(s.asset, s.signal, format_ts(s.ts), s.value) for s in stored}
    assert len(stored) == len(produced)
    assert got == expected
    # Units travel from the OPC-UA EngineeringUnits property and the MQTT mapping alike.
    units = {(s.asset.rsplit("/", 1)[-1], s.signal): s.unit for s in stored}
    assert units[("cnc-1", "spindle_speed")] == "rpm"
    assert units[("agv-1", "battery")] == "%"
    # State changes and parts became events.
    kinds = {e.kind for e in events}
    assert {"state_change", "part"} <= kinds


def test_twin_shows_latest_value_of_every_signal(stack: Stack) -> None:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for p in stack.produced():
        key = (p["asset"], p["signal"])
        if key not in latest or p["ts"] >= latest[key]["ts"]:
            latest[key] = p

    def twin_matches() -> list[dict[str, Any]] | None:
        assets = httpx.get(f"{stack.twin_url}/api/assets", timeout=5, headers=auth("viewer")).json()
        for asset in assets:
            for name, sig in asset["signals"].items():
                want = latest.get((asset["id"], name))
                if want is None or (sig["value"], sig["ts"]) != (want["value"], want["ts"]):
                    return None
        shown = {(a["id"], name) for a in assets for name in a["signals"]}
        return assets if shown == set(latest) else None

    assets = wait_until(twin_matches, 30, "the twin to show every signal's latest produced value")
    by_id = {a["id"].rsplit("/", 1)[-1]: a for a in assets}
    assert len(by_id) == 11
    cnc = by_id["cnc-1"]
    assert cnc["type"] == "cnc_machine"
    assert cnc["state"] in {"producing", "starved", "blocked", "down"}
    assert cnc["parts"]["good"] >= 1
    assert cnc["signals"]["spindle_speed"]["unit"] == "rpm"
    assert cnc["signals"]["spindle_speed"]["quality"] == "good"
    assert by_id["buf-1"]["state"] in {"empty", "holding", "full"}


def _publish(broker: BrokerConfig, messages: list[tuple[str, bytes]]) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-injector")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def _agv_message(ts: str, battery: Any) -> bytes:
    return orjson.dumps({"timestamp": ts, "operatingState": "producing", "partsDelivered": 3,
                         "missionState": "deliver", "batteryState": {"batteryCharge": battery},
                         "agvPosition": {"x": 12.5}})


def test_malformed_device_payload_is_rejected_counted_kept_and_flow_goes_on(stack: Stack) -> None:
    topic = f"uagv/v2/acme/{INJECTED}/state"
    _publish(stack.broker, [
        (topic, b"{this is not json"),
        (topic, _agv_message("2026-01-01T00:00:01.000000Z", "full")),  # one bad field
        (topic, _agv_message("2026-01-01T00:00:02.000000Z", 77.5)),  # all good, after the bad ones
    ])
    asset = f"acme/plant1/machining/line1/logistics/{INJECTED}"
    history = SqliteHistorian(stack.history, readonly=True)
    try:
        stored = wait_until(lambda: [s for s in history.samples(asset) if s.ts.second == 2], 10,
                            "the good message after the bad ones to be stored")
        first = history.samples(asset)
    finally:
        history.close()
    assert {s.signal for s in stored} == {"state", "parts_good", "battery", "position", "mission"}
    # The message with one bad field still delivered its four good fields.
    assert {s.signal for s in first if s.ts.second == 1} == {"state", "parts_good", "position", "mission"}

    quarantine = Quarantine(stack.quarantine)
    try:
        rejected = {(r.reason, r.field): r for r in quarantine.recent(50) if r.topic == topic}
    finally:
        quarantine.close()
    assert ("malformed_json", "payload") in rejected
    assert rejected[("malformed_json", "payload")].payload == b"{this is not json"
    bad_field = rejected[("wrong_type", "batteryState.batteryCharge")]
    assert "expected a number" in bad_field.detail and bad_field.source == "agv-fleet"


def test_malformed_uns_message_is_rejected_by_the_twin_and_kept(stack: Stack) -> None:
    base = "acme/plant1/machining/line1/turning/cnc-1"
    bad = {
        f"{base}/spindle_speed": (b'{"value": "fast", "ts": "2026-01-01T00:00:00Z"}', "wrong_type"),
        f"{base}/no_such_signal": (b'{"value": 1.0, "ts": "2026-01-01T00:00:00Z"}', "unknown_signal"),
        "acme/plant9/x/y/z/nope/speed": (b'{"value": 1.0, "ts": "2026-01-01T00:00:00Z"}', "unknown_asset"),
        f"{base}/power": (b'{"value": 1.0}', "missing"),
    }
    before = httpx.get(f"{stack.twin_url}/api/rejected", timeout=5, headers=auth("viewer")).json()["counts"]
    _publish(stack.broker, [(topic, payload) for topic, (payload, _) in bad.items()])

    def mine() -> dict[str, str] | None:
        recent = httpx.get(f"{stack.twin_url}/api/rejected", timeout=5, headers=auth("viewer")).json()["recent"]
        found = {r["topic"]: r["reason"] for r in recent if r["topic"] in bad}
        return found if len(found) == len(bad) else None

    found = wait_until(mine, 10, "the twin to reject and keep every bad message")
    assert found == {topic: reason for topic, (_, reason) in bad.items()}
    counts = httpx.get(f"{stack.twin_url}/api/rejected", timeout=5, headers=auth("viewer")).json()["counts"]
    for reason in ("wrong_type", "unknown_signal", "unknown_asset", "missing"):
        assert counts[reason] >= before.get(reason, 0) + 1, reason
    health = httpx.get(f"{stack.twin_url}/api/health", timeout=5, headers=auth("viewer")).json()
    assert health["broker_connected"] is True
