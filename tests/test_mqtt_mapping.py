"""The MQTT source's payload mapping: good fields flow, each bad one is rejected with its reason and kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sources.mqtt import MqttSource, MqttSourceConfig

TOPIC = "uagv/v2/acme/agv-7/state"
ASSET = "acme/plant1/machining/line1/logistics/agv-7"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[MqttSource]:
    config = MqttSourceConfig.model_validate({
        "type": "mqtt", "name": "fleet",
        "subscriptions": [{
            "topic": "uagv/v2/acme/{serial}/state", "asset": "acme/plant1/machining/line1/logistics/{serial}",
            "fields": {"battery": {"path": "batteryState.batteryCharge", "unit": "%"},
                       "parts_good": {"path": "partsDelivered", "type": "integer"},
                       "mission": {"path": "missionState", "type": "text"}}}],
    })
    quarantine = Quarantine(tmp_path / "q.db")
    yield MqttSource(config, PluginContext("agent", tmp_path, lambda s: None, quarantine))
    quarantine.close()


def _message(**fields: object) -> bytes:
    body = {"timestamp": "2026-11-29T10:00:00.500000Z", "batteryState": {"batteryCharge": 81.5},
            "partsDelivered": 4, "missionState": "deliver"}
    body.update(fields)
    return orjson.dumps(body)


def test_good_message_maps_every_field(source: MqttSource) -> None:
    samples = {s.signal: s for s in source.decode(TOPIC, _message())}
    assert {k: v.value for k, v in samples.items()} == {"battery": 81.5, "parts_good": 4, "mission": "deliver"}
    assert all(s.asset == ASSET for s in samples.values())
    assert samples["battery"].unit == "%"
    assert samples["battery"].ts == datetime(2026, 11, 29, 10, 0, 0, 500000, tzinfo=UTC)
    assert source.ctx.quarantine.total() == 0


def test_one_bad_field_is_rejected_alone(source: MqttSource) -> None:
    samples = source.decode(TOPIC, _message(partsDelivered="four"))
    assert {s.signal for s in samples} == {"battery", "mission"}
    (rejected,) = source.ctx.quarantine.recent()
    assert (rejected.reason, rejected.field, rejected.source) == ("wrong_type", "partsDelivered", "fleet")
    assert rejected.payload == _message(partsDelivered="four")


def test_nan_literal_is_rejected_as_not_finite(source: MqttSource) -> None:
    payload = _message().replace(b"81.5", b"NaN")
    samples = source.decode(TOPIC, payload)
    assert {s.signal for s in samples} == {"parts_good", "mission"}
    assert source.ctx.quarantine.counts == {("fleet", "not_finite"): 1}


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    (TOPIC, b"\xff\xfe garbage", "malformed_json"),
    (TOPIC, b'"just a string"', "malformed_json"),
    (TOPIC, orjson.dumps({"missionState": "x"}), "missing"),
    (TOPIC, _message(timestamp="last tuesday"), "bad_timestamp"),
    ("uagv/v2/acme/agv-7/connection", _message(), "unknown_topic"),
])
def test_unusable_messages_are_rejected_whole(source: MqttSource, topic: str, payload: bytes, reason: str) -> None:
    assert source.decode(topic, payload) == []
    assert source.ctx.quarantine.counts == {("fleet", reason): 1}
    assert source.ctx.quarantine.recent()[0].payload == payload


def test_placeholder_must_fill_a_level() -> None:
    with pytest.raises(ValueError, match="whole topic level"):
        MqttSourceConfig.model_validate({"type": "mqtt", "name": "x", "subscriptions": [
            {"topic": "a/b{x}/c", "asset": "p", "fields": {"v": {"path": "v"}}}]})
    with pytest.raises(ValueError, match="does not define"):
        MqttSourceConfig.model_validate({"type": "mqtt", "name": "x", "subscriptions": [
            {"topic": "a/{x}/c", "asset": "p/{y}", "fields": {"v": {"path": "v"}}}]})
