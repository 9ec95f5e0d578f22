"""The twin's live stream over WebSocket, end to end: UNS messages on mosquitto in, filtered changes out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client as ws_client
from support import API_KEYS, AUTH_CONFIG, PROJECT, ServedApp, auth, wait_until
from websockets.exceptions import InvalidStatus

from historian.sqlite import SqliteHistorian
from plantmodel import mqtt, uns
from plantmodel.config import parse_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Event, EventKind, Sample
from twin.app_state import services_of
from twin.config import TwinConfig
from twin.main import create_app

ENTERPRISE = "livetest"
LINE = f"{ENTERPRISE}/plant1/machining/line1"
CNC1, CNC2 = f"{LINE}/turning/cnc-1", f"{LINE}/milling/cnc-2"


def plant() -> PlantConfig:
    text = (PROJECT / "configs" / "demo-plant.yaml").read_text()
    text = text.replace("enterprise: acme", f"enterprise: {ENTERPRISE}")
    return parse_config(text, PlantConfig)


@pytest.fixture()
def served(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> Iterator[tuple[ServedApp, Any]]:
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": mosquitto.model_dump(),
                                     "database": str(tmp_path / "twin.db"), "auth": AUTH_CONFIG})
    app = create_app(cfg, plant())
    publisher = mqtt.make_client(mosquitto, "live-test-publisher")
    mqtt.start(publisher, mosquitto)
    with ServedApp(app) as s:
        feed = services_of(app).feed
        wait_until(lambda: feed.connected and publisher.is_connected(), 10, "twin and publisher to connect")
        yield s, publisher
    mqtt.stop(publisher)


def publish(client: Any, sample: Sample) -> None:
    topic, payload = uns.encode(sample)
    client.publish(topic, payload, qos=1)


def ws_url(s: ServedApp, *prefixes: str, token: str | None = API_KEYS["viewer"]) -> str:
    query = "&".join([f"asset={p}" for p in prefixes] + ([f"token={token}"] if token else []))
    return f"ws://127.0.0.1:{s.port}/api/ws?{query}"


def messages_until(conn: Any, found: Any, timeout: float = 10) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def next_message() -> bool:
        seen.append(json.loads(conn.recv(timeout=timeout)))
        return found(seen[-1])

    wait_until(next_message, timeout, "the expected WebSocket message", interval=0)
    return seen


def test_stream_sends_a_snapshot_then_only_changes_under_the_prefix(served: tuple[ServedApp, Any]) -> None:
    s, publisher = served
    with ws_client.connect(ws_url(s, f"{LINE}/turning")) as conn:
        snapshot = json.loads(conn.recv(timeout=10))
        assert snapshot["type"] == "snapshot"
        assert {a["id"] for a in snapshot["assets"]} == {CNC1, f"{LINE}/turning/buf-1"}
        now = datetime.now(UTC)
        publish(publisher, Sample(CNC2, "spindle_speed", 1111.0, "rpm", now))  # another cell: not for us
        publish(publisher, Sample(CNC1, "spindle_speed", 4321.0, "rpm", now))
        seen = messages_until(conn, lambda m: any(
            a["id"] == CNC1 and a["signals"].get("spindle_speed", {}).get("value") == 4321.0
            for a in m.get("assets", [])))
        assert all(m["type"] == "update" for m in seen)
        assert {a["id"] for m in seen for a in m["assets"]} == {CNC1}
        update = next(a for a in seen[-1]["assets"] if a["id"] == CNC1)
        assert update["signals"]["spindle_speed"]["ts"].replace("Z", "+00:00") == now.isoformat()
        assert {"state", "parts", "time_in_state_s"} <= set(update)


def test_every_client_gets_the_change(served: tuple[ServedApp, Any]) -> None:
    s, publisher = served
    conns = [ws_client.connect(ws_url(s, CNC2)) for _ in range(20)]
    try:
        for c in conns:
            assert json.loads(c.recv(timeout=10))["type"] == "snapshot"
        publish(publisher, Sample(CNC2, "spindle_load", 77.0, "%", datetime.now(UTC)))
        for c in conns:
            messages_until(c, lambda m: any(a["signals"].get("spindle_load", {}).get("value") == 77.0
                                            for a in m.get("assets", [])))
    finally:
        for c in conns:
            c.close()
    wait_until(lambda: not services_of(s.app).live.subscribers, 10, "closed clients to be forgotten")


def test_stream_needs_a_key(served: tuple[ServedApp, Any]) -> None:
    s, _ = served
    with pytest.raises(InvalidStatus) as refused:
        ws_client.connect(ws_url(s, token=None), open_timeout=10)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        ws_client.connect(ws_url(s, token="not-a-key"), open_timeout=10)


def test_a_restart_recovers_live_state_and_the_reasons_people_gave(tmp_path: Path,
                                                                     mosquitto: mqtt.BrokerConfig) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stop_events = [Event(CNC1, EventKind.STATE_CHANGE, now - timedelta(minutes=30), {"to": "producing"}),
                   Event(CNC1, EventKind.STATE_CHANGE, now - timedelta(minutes=20), {"to": "down"}),
                   Event(CNC1, EventKind.STATE_CHANGE, now - timedelta(minutes=10), {"to": "producing"})]
    history = SqliteHistorian(tmp_path / "history.db")  # what the agent stored: the stops are rebuilt from it
    history.write(stop_events)
    history.close()
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": mosquitto.model_dump(),
                                     "database": str(tmp_path / "twin.db"), "auth": AUTH_CONFIG,
                                     "history": str(tmp_path / "history.db"), "client_id": "restart-test"})
    publisher = mqtt.make_client(mosquitto, "restart-test-publisher")
    mqtt.start(publisher, mosquitto)
    try:
        first = create_app(cfg, plant())
        with ServedApp(first) as s, httpx.Client(base_url=s.url, headers=auth(), timeout=10) as api:
            wait_until(lambda: services_of(first).feed.connected and publisher.is_connected(), 10, "connections")
            sample = Sample(CNC1, "spindle_speed", 2468.0, "rpm", now)
            publish(publisher, sample)  # not retained: after the restart only the twin's database has it
            wait_until(lambda: api.get(f"/api/assets/{CNC1}").json()["signals"].get("spindle_speed"), 10,
                       "the sample to reach the twin")
            [stop] = api.get("/api/downtime", params={"asset": CNC1}).json()
            assert api.post(f"/api/downtime/{stop['id']}/reason", json={"reason": "chip jam"}).status_code == 200
        second = create_app(cfg, plant())
        with ServedApp(second) as s, httpx.Client(base_url=s.url, headers=auth(), timeout=10) as api:
            live = api.get(f"/api/assets/{CNC1}").json()
            assert live["signals"]["spindle_speed"]["value"] == 2468.0
            assert live["signals"]["spindle_speed"]["ts"].replace("Z", "+00:00") == now.isoformat()
            [again] = api.get("/api/downtime", params={"asset": CNC1}).json()
            assert (again["id"], again["reason"], again["by"]) == (stop["id"], "chip jam", "test-engineer")
    finally:
        mqtt.stop(publisher)
