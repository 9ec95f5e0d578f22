"""The twin's feed from the unified namespace against a dead line, a colliding client and junk topics.

- A feed that goes silent is reported (`/api/health` degraded, with the reason) and reconnected.
- A client under the twin's configured client id cannot take its subscription over (the demo's embedded broker
  silently kept the old connection open and delivered nothing to it).
- Thousands of junk topics add no /metrics series and a bounded number of log lines.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import AUTH_CONFIG, PROJECT, ServedApp, auth, free_port, wait_until

from factory_twin.broker import Rights, embedded_broker
from plantmodel import mqtt, uns
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Sample
from twin.app_state import services_of
from twin.config import TwinConfig
from twin.main import create_app

LINE = "acme/plant1/machining/line1"
CNC = f"{LINE}/turning/cnc-1"


def make_app(tmp_path: Path, broker: mqtt.BrokerConfig, **extra: Any) -> Any:
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": broker.model_dump(), "auth": AUTH_CONFIG,
                                     "database": str(tmp_path / "twin.db")} | extra)
    return create_app(cfg, load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig))


def speed(value: float) -> tuple[str, bytes]:
    return uns.encode(Sample(CNC, "spindle_speed", value, "rpm", datetime.now(UTC)))


def publisher(broker: mqtt.BrokerConfig) -> Any:
    client = mqtt.make_client(broker, mqtt.unique_client_id("feed-test-pub"))
    mqtt.start(client, broker)
    wait_until(client.is_connected, 10, "the publisher to connect")
    return client


def health(s: ServedApp) -> dict[str, Any]:
    return httpx.get(f"{s.url}/api/health", headers=auth("viewer"), timeout=5).json()


def test_a_silent_feed_is_reported_and_reconnected(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    with ServedApp(make_app(tmp_path, mosquitto, feed_silence_s=2)) as s:
        wait_until(lambda: health(s)["broker_connected"], 10, "the twin to connect")
        pub = publisher(mosquitto)
        try:
            pub.publish(*speed(8000.0), qos=1).wait_for_publish(5)
            snap = wait_until(lambda: (h := health(s))["status"] == "degraded" and h, 15, "the silence to show")
            assert any("no live UNS message" in p for p in snap["problems"]), snap
            feed = services_of(s.app).feed
            wait_until(lambda: feed.silence_restarts >= 1 and feed.connected, 15, "a reconnection")
            pub.publish(*speed(8001.0), qos=1).wait_for_publish(5)
            wait_until(lambda: health(s)["status"] == "ok", 10, "a live message to end the silence")
            value = httpx.get(f"{s.url}/api/assets/{CNC}", headers=auth("viewer")).json()["signals"]
            assert value["spindle_speed"]["value"] == 8001.0
            metrics = httpx.get(f"{s.url}/metrics", headers=auth("viewer")).text
            assert "factory_twin_twin_feed_silence_restarts_total" in metrics
        finally:
            mqtt.stop(pub)


def test_a_client_with_the_twins_name_cannot_take_its_subscription(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the demo's embedded broker, which keeps a taken-over connection open but delivers nothing."""
    import asyncio
    import threading

    port = free_port()
    passwords = {"twin": "twin-password-0001", "edge": "edge-password-0002"}
    acl = {"twin": Rights(subscribe=("acme/#",)), "edge": Rights(publish=("acme/#",), subscribe=("acme/#",))}
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()

    async def serve() -> None:
        async with embedded_broker("127.0.0.1", port, passwords, acl):
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    assert ready.wait(15)
    monkeypatch.setenv("FT_TEST_TWIN_PW", passwords["twin"])
    monkeypatch.setenv("FT_TEST_EDGE_PW", passwords["edge"])
    twin_broker = mqtt.BrokerConfig(port=port, username="twin", password_env="FT_TEST_TWIN_PW")
    edge_broker = mqtt.BrokerConfig(port=port, username="edge", password_env="FT_TEST_EDGE_PW")
    try:
        with ServedApp(make_app(tmp_path, twin_broker, client_id="factory-twin-service")) as s:
            wait_until(lambda: health(s)["broker_connected"], 10, "the twin to connect")
            intruder = mqtt.make_client(twin_broker, "factory-twin-service")  # the configured id, as the issue did
            mqtt.start(intruder, twin_broker)
            wait_until(intruder.is_connected, 10, "the intruder to connect")
            pub = publisher(edge_broker)
            try:
                for i in range(5):
                    pub.publish(*speed(9000.0 + i), qos=1).wait_for_publish(5)
                wait_until(lambda: httpx.get(f"{s.url}/api/assets/{CNC}", headers=auth("viewer")).json()
                           ["signals"].get("spindle_speed", {}).get("value") == 9004.0, 10,
                           "the twin to keep receiving beside a client with its configured id")
            finally:
                mqtt.stop(pub)
                mqtt.stop(intruder)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()  # an event loop left open is collected later, in another test, as an unclosed socket


def test_junk_topics_add_no_metric_series_and_few_log_lines(tmp_path: Path, mosquitto: mqtt.BrokerConfig,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    with ServedApp(make_app(tmp_path, mosquitto)) as s:
        wait_until(lambda: health(s)["broker_connected"], 10, "the twin to connect")
        pub = publisher(mosquitto)
        feed = services_of(s.app).feed
        try:
            with caplog.at_level(logging.WARNING, logger="twin.stream"):
                for i in range(3000):
                    pub.publish(f"acme/junk-{i}/x/y/z/w/signal", b'{"value": 1, "ts": "2026-01-01T00:00:00Z"}',
                                qos=0)
                pub.publish(*speed(7000.0), qos=1).wait_for_publish(5)
                wait_until(lambda: feed.messages >= 3001, 20, "the junk to arrive")
        finally:
            mqtt.stop(pub)
        metrics = httpx.get(f"{s.url}/metrics", headers=auth("viewer")).text
        series = [ln for ln in metrics.splitlines() if ln.startswith("factory_twin_twin_messages_total{")]
        assert len(series) <= 2, series  # line1 and "other"
        rejected = [r for r in caplog.records if "rejected UNS message" in r.getMessage()]
        assert 1 <= len(rejected) <= 20, len(rejected)
        assert sum(feed.rejected_counts.values()) >= 3000  # every one counted all the same


def test_forged_timestamps_are_refused_listed_and_never_shown(tmp_path: Path, mosquitto: mqtt.BrokerConfig) -> None:
    """A retained value stamped 2099 (and one in 1970) on a real signal topic: the twin refuses both with the
    field at fault, lists them in /api/rejected, keeps showing real values after them, and brings neither
    back after a restart (plantmodel.validation's window, as at the agent and the historian)."""
    topic, _ = speed(0.0)
    forged_2099 = b'{"value": 96000, "unit": "rpm", "ts": "2099-01-01T00:00:31Z"}'
    forged_1970 = b'{"value": 1, "unit": "rpm", "ts": 5}'
    try:
        with ServedApp(make_app(tmp_path, mosquitto)) as s:
            wait_until(lambda: health(s)["broker_connected"], 10, "the twin to connect")
            pub = publisher(mosquitto)
            try:
                pub.publish(topic, forged_2099, qos=1, retain=True).wait_for_publish(5)
                pub.publish(topic, forged_1970, qos=1).wait_for_publish(5)
                pub.publish(*speed(7000.0), qos=1).wait_for_publish(5)
                state = services_of(s.app).twin.assets[CNC].signals
                wait_until(lambda: "spindle_speed" in state and state["spindle_speed"].value == 7000.0, 10,
                           "the real value after the forged ones")
                got = httpx.get(f"{s.url}/api/rejected", headers=auth("viewer"), timeout=5).json()
            finally:
                mqtt.stop(pub)
        refused = [r for r in (got["recent"] if isinstance(got, dict) else got) if r["topic"] == topic]
        assert {(r["reason"], r["field"]) for r in refused} == {("bad_timestamp", "ts")}, refused
        assert any("ahead of the plant clock" in r["detail"] for r in refused)
        assert any("before 2000" in r["detail"] for r in refused)
        # a restart: the forged retained value comes back from the broker and is refused again, not restored
        with ServedApp(make_app(tmp_path, mosquitto)) as s:
            wait_until(lambda: health(s)["broker_connected"], 10, "the twin to connect again")
            feed = services_of(s.app).feed
            wait_until(lambda: feed.rejected_counts["bad_timestamp"] >= 1, 10, "the retained forgery")
            value = services_of(s.app).twin.assets[CNC].signals.get("spindle_speed")
            assert value is not None and value.value == 7000.0  # restored from the twin's database, not forged
    finally:
        pub = publisher(mosquitto)
        pub.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # clear the retained forgery
        mqtt.stop(pub)
