"""Several twin instances on one broker: MQTT 5 shared subscriptions split the plant by line, any instance
answers for every line; the twin's Prometheus metrics; JSON log lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from support import AUTH_CONFIG, PROJECT, Child, ServedApp, auth, free_port, wait_until

from factory_twin import plant_gen
from factory_twin.runtime import JsonFormatter
from plantmodel import uns
from plantmodel.config import ConfigError
from plantmodel.mqtt import BrokerConfig
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Sample
from twin.app_state import services_of
from twin.config import TwinConfig, load_twin
from twin.main import create_app
from twin.metrics import quantile


def plant_data(enterprise: str, lines: int = 2) -> dict[str, Any]:
    """The demo line copied; each test its own enterprise, so no retained message of another test reaches it."""
    data = plant_gen.replicate(plant_gen.load(PROJECT / "configs" / "demo-plant.yaml"), lines)
    data["enterprise"] = enterprise
    return data


def cnc(enterprise: str, line: int) -> str:
    return f"{enterprise}/plant1/machining/line{line}/turning/cnc-1"


def line(enterprise: str, n: int) -> str:
    return f"{enterprise}/plant1/machining/line{n}"


def config(tmp: Path, mosquitto: BrokerConfig, name: str, **partition: Any) -> TwinConfig:
    return TwinConfig.model_validate({
        "plant": "plant.yaml", "broker": mosquitto.model_dump() | {"protocol": "5"}, "client_id": f"twin-{name}",
        "database": str(tmp / f"{name}.db"), "auth": AUTH_CONFIG, "partition": partition or None})


def served_on(app: Any, port: int) -> ServedApp:
    served = ServedApp(app)
    served.port, served.url = port, f"http://127.0.0.1:{port}"
    return served


@pytest.fixture
def publisher(mosquitto: BrokerConfig) -> Iterator[paho.Client]:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def publish(client: paho.Client, asset: str, value: float, *, retain: bool = False) -> None:
    topic, payload = uns.encode(Sample(asset, "spindle_speed", value, "rpm", datetime.now(UTC)))
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


def speed_of(assets: list[dict[str, Any]], path: str) -> float | None:
    signal = next(a for a in assets if a["id"] == path)["signals"].get("spindle_speed")
    return signal["value"] if signal else None


def test_two_instances_split_the_lines_and_each_answers_for_all(tmp_path: Path, mosquitto: BrokerConfig,
                                                                publisher: paho.Client) -> None:
    ent = "shareapi"
    plant = PlantConfig.model_validate(plant_data(ent))
    port_a, port_b = free_port(), free_port()
    app_a = create_app(config(tmp_path, mosquitto, "a", lines=[line(ent, 1)],
                              peers=[{"url": f"http://127.0.0.1:{port_b}", "lines": [line(ent, 2)]}]), plant)
    app_b = create_app(config(tmp_path, mosquitto, "b", lines=[line(ent, 2)],
                              peers=[{"url": f"http://127.0.0.1:{port_a}", "lines": [line(ent, 1)]}]), plant)
    with ExitStack() as stack:
        a = stack.enter_context(served_on(app_a, port_a))
        b = stack.enter_context(served_on(app_b, port_b))
        feed_a, feed_b = services_of(app_a).feed, services_of(app_b).feed
        wait_until(lambda: feed_a.subscribed and feed_b.subscribed, 10, "both to subscribe")
        publish(publisher, cnc(ent, 1), 1001.0)
        publish(publisher, cnc(ent, 2), 2002.0)
        wait_until(lambda: feed_a.messages and feed_b.messages, 10, "both to take a message")
        # each instance took only its own line from the broker
        assert dict(feed_a.messages_by_line) == {line(ent, 1): 1}
        assert dict(feed_b.messages_by_line) == {line(ent, 2): 1}
        for served in (a, b):
            with httpx.Client(base_url=served.url, headers=auth("viewer"), timeout=5) as api:
                assets = api.get("/api/assets").json()
                assert len(assets) == 22 and [x["id"] for x in assets] == [x.path for x in plant.assets()]
                assert speed_of(assets, cnc(ent, 1)) == 1001.0 and speed_of(assets, cnc(ent, 2)) == 2002.0
                for n, value in ((1, 1001.0), (2, 2002.0)):  # one asset: asked of its owner when not ours
                    one = api.get(f"/api/assets/{cnc(ent, n)}")
                    assert one.status_code == 200 and one.json()["signals"]["spindle_speed"]["value"] == value
                assert api.get(f"/api/assets/{line(ent, 2)}/turning/nope").status_code == 404
            # the caller's credentials travel with the question: no key, no answer from either
            assert httpx.get(f"{served.url}/api/assets", timeout=5).status_code == 401
            assert httpx.get(f"{served.url}/api/assets/{cnc(ent, 2)}", timeout=5).status_code == 401


def test_a_peer_that_does_not_answer_is_named(tmp_path: Path, mosquitto: BrokerConfig) -> None:
    ent = "sharedown"
    plant = PlantConfig.model_validate(plant_data(ent))
    gone = f"http://127.0.0.1:{free_port()}"
    app = create_app(config(tmp_path, mosquitto, "a", lines=[line(ent, 1)], timeout_s=1,
                            peers=[{"url": gone, "lines": [line(ent, 2)]}]), plant)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth("viewer"), timeout=5) as api:
        r = api.get("/api/assets")
        assert r.status_code == 200 and r.headers["x-factory-twin-partial"] == gone and len(r.json()) == 22
        r = api.get(f"/api/assets/{cnc(ent, 2)}")
        assert r.status_code == 502 and gone in r.json()["detail"]


def test_a_shared_group_hands_each_message_to_one_member_and_retained_values_to_each(
        tmp_path: Path, mosquitto: BrokerConfig, publisher: paho.Client) -> None:
    ent = "sharegroup"
    plant = PlantConfig.model_validate(plant_data(ent, 1))
    publish(publisher, cnc(ent, 1), 500.0, retain=True)  # before either starts: both must see it, once each
    apps = [create_app(config(tmp_path, mosquitto, name, lines=[line(ent, 1)]), plant) for name in ("a", "b")]
    with ExitStack() as stack:
        for app in apps:
            stack.enter_context(ServedApp(app))
        wait_until(lambda: all(services_of(app).feed.messages == 1 for app in apps), 10, "the retained value in both")
        assert all(services_of(app).twin.assets[cnc(ent, 1)].signals["spindle_speed"].value == 500.0 for app in apps)
        wait_until(lambda: all(services_of(app).feed.subscribed for app in apps), 10, "both to subscribe")
        for i in range(40):
            publish(publisher, cnc(ent, 1), 1000.0 + i)
        wait_until(lambda: sum(services_of(app).feed.messages for app in apps) >= 2 + 40, 10, "every message to arrive")
        counts = [services_of(app).feed.messages - 1 for app in apps]
        assert sum(counts) == 40 and min(counts) > 0, counts  # shared: every message once, to one of the two
    publish(publisher, cnc(ent, 1), 0.0, retain=True)


def test_partition_config_errors_name_the_key(tmp_path: Path) -> None:
    plant_gen.dump(plant_data("acme"), tmp_path / "plant.yaml")
    twin_yaml = tmp_path / "twin.yaml"
    twin_yaml.write_text("plant: plant.yaml\npartition:\n  lines: [acme/plant1/machining/line7]\n"
                         "  peers: [{url: 'http://b:8000', lines: [acme/plant1/machining/line1]}]\n")
    with pytest.raises(ConfigError) as err:
        load_twin(twin_yaml)
    text = str(err.value)
    assert 'broker.protocol: a partition uses MQTT 5 shared subscriptions; expected "5"' in text
    assert "partition.lines[0]: 'acme/plant1/machining/line7' is not a line of the plant model" in text
    twin_yaml.write_text("plant: plant.yaml\nbroker: {protocol: '5'}\npartition:\n"
                         "  lines: [acme/plant1/machining/line1]\n"
                         "  peers: [{url: 'http://b:8000', lines: [acme/plant1/machining/line1]}]\n")
    with pytest.raises(ConfigError, match=r"partition.peers\[0\].lines\[0\]: .* is already owned by partition.lines"):
        load_twin(twin_yaml)


def test_metrics_need_a_viewer_key_and_count_what_came_in(tmp_path: Path, mosquitto: BrokerConfig,
                                                          publisher: paho.Client) -> None:
    ent = "metricstest"
    plant = PlantConfig.model_validate(plant_data(ent, 1))
    cfg = TwinConfig.model_validate({"plant": "plant.yaml", "broker": mosquitto.model_dump(),
                                     "client_id": "twin-metrics", "database": str(tmp_path / "twin.db"),
                                     "auth": AUTH_CONFIG})
    app = create_app(cfg, plant)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, headers=auth("viewer"), timeout=5) as api:
        assert httpx.get(f"{served.url}/metrics", timeout=5).status_code == 401
        wait_until(lambda: services_of(app).feed.subscribed, 10, "the twin to subscribe")
        for i in range(5):
            publish(publisher, cnc(ent, 1), 100.0 + i)
        publisher.publish(f"{cnc(ent, 1)}/spindle_speed", b"{not json", qos=1).wait_for_publish(5)
        wait_until(lambda: services_of(app).feed.messages == 6, 10, "six messages")
        assert api.get("/api/assets").status_code == 200
        engine = services_of(app).performance.alerts  # changed on the app's own loop, its single writer
        served._loop.call_soon_threadsafe(engine.anomaly, cnc(ent, 1), datetime.now(UTC), True, 10.0, 2.0, ["vib"])
        wait_until(lambda: engine.open, 10, "the anomaly alert")
        r = api.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert f'factory_twin_twin_messages_total{{line="{line(ent, 1)}"}} 6' in text
        assert 'factory_twin_twin_rejected_total{reason="malformed_json"} 1' in text
        assert "factory_twin_twin_broker_connected 1" in text
        assert "factory_twin_twin_broker_reconnects_total 0" in text
        assert "factory_twin_twin_ingest_latency_seconds_count 5" in text
        assert 'factory_twin_twin_alerts_open{severity="critical"} 1' in text
        assert 'factory_twin_twin_alerts_open{severity="warning"} 0' in text
        assert "factory_twin_twin_alerts_raised_total 1" in text
        assert 'factory_twin_twin_alerts_state{state="active"} 1' in text
        assert "factory_twin_twin_alerts_flooding 0" in text
        assert "factory_twin_twin_websocket_clients 0" in text
        assert ('factory_twin_twin_http_request_duration_seconds_count{method="GET",route="/api/assets",'
                'status="200"} 1') in text
        assert 'route="unmatched"' not in text
        buckets = [(float(line_.split('le="')[1].split('"')[0]), int(line_.rsplit(" ", 1)[1]))
                   for line_ in text.splitlines() if line_.startswith("factory_twin_twin_ingest_latency_seconds_b")]
        p50 = quantile(buckets, 0.5)
        assert p50 is not None and 0 <= p50 < 5


def test_quantile_interpolates_within_the_bucket() -> None:
    buckets = [(0.01, 0), (0.02, 50), (0.05, 100), (float("inf"), 100)]
    assert quantile(buckets, 0.5) == pytest.approx(0.02)
    assert quantile(buckets, 0.25) == pytest.approx(0.015)
    assert quantile(buckets, 0.99) == pytest.approx(0.0494)
    assert quantile([(1.0, 0), (float("inf"), 0)], 0.5) is None


def test_json_log_lines_carry_the_extra_fields() -> None:
    record = logging.LogRecord("twin.stream", logging.WARNING, __file__, 1, "rejected %s", ("x",), None)
    record.asset = "acme/plant1/machining/line1/turning/cnc-1"
    out = json.loads(JsonFormatter().format(record))
    assert out["level"] == "warning" and out["message"] == "rejected x" and out["logger"] == "twin.stream"
    assert out["asset"] == "acme/plant1/machining/line1/turning/cnc-1" and out["ts"].endswith("+00:00")


def test_twin_serve_logs_json_with_the_asset_of_a_rejected_message(tmp_path: Path, mosquitto: BrokerConfig,
                                                                    publisher: paho.Client) -> None:
    ent = "jsonlog"
    plant_gen.dump(plant_data(ent, 1), tmp_path / "plant.yaml")
    port = free_port()
    (tmp_path / "twin.yaml").write_text(
        f"plant: plant.yaml\nbroker: {{port: {mosquitto.port}}}\nport: {port}\nclient_id: twin-jsonlog\n"
        f"database: {tmp_path / 'twin.db'}\nauth: {json.dumps(AUTH_CONFIG)}\n")
    child = Child("twin", ["twin", "serve", "twin.yaml", "--log-format", "json", "--log-level", "warning"], tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{url}/api/health", headers=auth("viewer"), timeout=1).json()["broker_connected"],
                   20, "the twin to connect")
        bad = json.dumps({"value": "fast", "ts": datetime.now(UTC).isoformat()}).encode()
        publisher.publish(f"{cnc(ent, 1)}/spindle_speed", bad, qos=1).wait_for_publish(5)

        def logged() -> list[dict[str, Any]]:
            return [json.loads(x) for x in child.stderr().splitlines() if x.startswith("{") and "rejected" in x]

        entry = wait_until(logged, 10, "a JSON log line about the rejected message")[0]
        assert entry["asset"] == cnc(ent, 1) and entry["reason"] == "wrong_type" and entry["field"] == "value"
        assert all(json.loads(x) for x in child.stderr().splitlines() if x.strip())  # every line is JSON
    finally:
        assert child.stop() == 0, child.stderr()
