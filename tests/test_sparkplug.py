"""Sparkplug B and plain-number payloads: births name metrics, aliases resolve, deaths mark signals bad."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sources.mqtt import MqttSource, MqttSourceConfig
from edge_agent.sources.sparkplug_b import DataType, Payload
from plantmodel.telemetry import NO_COMMUNICATION, Quality

LINE = "acme/plant1/machining/line1"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[MqttSource]:
    config = MqttSourceConfig.model_validate({
        "type": "mqtt", "name": "spb",
        "subscriptions": [{"topic": "sensors/{room}/temperature", "format": "number",
                           "asset": "acme/plant1/utilities/{room}", "fields": {"temperature": {"unit": "degC"}}}],
        "sparkplug": [{"group": "line1", "node_asset": f"{LINE}/{{edge_node}}", "device_asset": f"{LINE}/{{device}}",
                       "signals": {"Spindle/Speed": {"signal": "spindle_speed"}}}],
    })
    quarantine = Quarantine(tmp_path / "q.db")
    yield MqttSource(config, PluginContext("agent", tmp_path, lambda s: None, quarantine))
    quarantine.close()


def payload(*metrics: dict[str, Any], seq: int = 0, ts: int | None = 1_780_000_000_000) -> bytes:
    p = Payload(seq=seq)
    if ts is not None:
        p.timestamp = ts
    for m in metrics:
        unit = m.pop("unit", None)
        metric = p.metrics.add(**m)
        if unit:
            metric.properties.keys.append("engUnit")
            metric.properties.values.add(type=DataType.String, string_value=unit)
    return p.SerializeToString()


def birth(bd_seq: int = 0) -> bytes:
    return payload({"name": "bdSeq", "datatype": DataType.Int64, "long_value": bd_seq},
                   {"name": "Node Control/Rebirth", "datatype": DataType.Boolean, "boolean_value": False},
                   {"name": "uptime", "alias": 1, "datatype": DataType.Int64, "long_value": 10, "unit": "s"})


def device_birth() -> bytes:
    return payload({"name": "Spindle/Speed", "alias": 10, "datatype": DataType.Double, "double_value": 1200.0,
                    "unit": "rpm"},
                   {"name": "Temp", "alias": 11, "datatype": DataType.Int16, "int_value": (-5) & 0xFFFFFFFF},
                   {"name": "State", "alias": 12, "datatype": DataType.String, "string_value": "producing"})


def test_birth_then_data_by_alias_then_death_marks_signals_bad(source: MqttSource) -> None:
    node = source.decode("spBv1.0/line1/NBIRTH/gw-1", birth())
    assert [(s.asset, s.signal, s.value, s.unit) for s in node] == [(f"{LINE}/gw-1", "uptime", 10, "s")]
    dev = {s.signal: s for s in source.decode("spBv1.0/line1/DBIRTH/gw-1/cnc-1", device_birth())}
    assert {k: (v.value, v.unit) for k, v in dev.items()} == {
        "spindle_speed": (1200.0, "rpm"), "Temp": (-5, ""), "State": ("producing", "")}
    assert all(s.asset == f"{LINE}/cnc-1" and s.quality == Quality.GOOD for s in dev.values())
    data = source.decode("spBv1.0/line1/DDATA/gw-1/cnc-1", payload(
        {"alias": 10, "datatype": DataType.Double, "double_value": 1250.0, "timestamp": 1_780_000_000_500}))
    assert [(s.signal, s.value, s.unit, s.ts.microsecond) for s in data] == [("spindle_speed", 1250.0, "rpm", 500000)]
    # the broker publishes the node's will when it drops off: every signal of node and devices turns bad
    dead = source.decode("spBv1.0/line1/NDEATH/gw-1", payload({"name": "bdSeq", "datatype": 4, "long_value": 0}))
    assert {(s.asset, s.signal, s.value) for s in dead} == {
        (f"{LINE}/gw-1", "uptime", 10), (f"{LINE}/cnc-1", "spindle_speed", 1250.0), (f"{LINE}/cnc-1", "Temp", -5),
        (f"{LINE}/cnc-1", "State", "producing")}
    assert all(s.quality == Quality.BAD and s.status == NO_COMMUNICATION for s in dead)
    assert source.ctx.quarantine.total() == 0


def test_device_death_marks_only_that_device(source: MqttSource) -> None:
    source.decode("spBv1.0/line1/NBIRTH/gw-1", birth())
    source.decode("spBv1.0/line1/DBIRTH/gw-1/cnc-1", device_birth())
    dead = source.decode("spBv1.0/line1/DDEATH/gw-1/cnc-1", payload())
    assert {s.asset for s in dead} == {f"{LINE}/cnc-1"} and len(dead) == 3


def test_a_stale_will_from_an_older_session_changes_nothing(source: MqttSource) -> None:
    source.decode("spBv1.0/line1/NBIRTH/gw-1", birth(bd_seq=3))
    assert source.decode("spBv1.0/line1/NDEATH/gw-1", payload({"name": "bdSeq", "datatype": 4, "long_value": 2})) == []
    assert source.ctx.quarantine.counts == {("spb", "stale_death"): 1}
    data = source.decode("spBv1.0/line1/NDATA/gw-1", payload({"alias": 1, "datatype": 4, "long_value": 11}))
    assert [s.value for s in data] == [11]  # still born


def test_bad_metrics_are_rejected_alone(source: MqttSource) -> None:
    source.decode("spBv1.0/line1/NBIRTH/gw-1", birth())
    data = source.decode("spBv1.0/line1/NDATA/gw-1", payload(
        {"alias": 99, "datatype": DataType.Double, "double_value": 1.0},
        {"alias": 1, "datatype": DataType.Int64, "long_value": 12},
        {"name": "blob", "datatype": 17, "bytes_value": b"\x00"},
        {"name": "nan", "datatype": DataType.Double, "double_value": float("nan")}))
    assert [(s.signal, s.value) for s in data] == [("uptime", 12)]
    assert source.ctx.quarantine.counts == {("spb", "unknown_alias"): 1, ("spb", "unsupported_type"): 1,
                                            ("spb", "not_finite"): 1}
    null = source.decode("spBv1.0/line1/NDATA/gw-1", payload({"alias": 1, "datatype": 4, "is_null": True}))
    assert [(s.value, s.quality) for s in null] == [(12, Quality.BAD)]


@pytest.mark.parametrize(("topic", "body", "reason"), [
    ("spBv1.0/line1/NDATA/gw-1", b"\xff\xff\xff", "malformed_protobuf"),
    ("spBv1.0/line1/DDATA/gw-1", b"", "bad_topic"),
    ("spBv1.0/line1/WHAT/gw-1", b"", "bad_topic"),
    ("spBv1.0/line1/NDATA/gw-1", payload(ts=2**63), "bad_timestamp"),
    ("sensors/hall/temperature", b"warm", "malformed_number"),
    ("sensors/hall/temperature", b"nan", "not_finite"),
])
def test_unusable_messages_are_rejected_whole(source: MqttSource, topic: str, body: bytes, reason: str) -> None:
    assert source.decode(topic, body) == []
    assert source.ctx.quarantine.counts == {("spb", reason): 1}


def test_plain_number_payload(source: MqttSource) -> None:
    (sample,) = source.decode("sensors/hall-2/temperature", b" 21.5\n")
    assert (sample.asset, sample.signal, sample.value, sample.unit) == ("acme/plant1/utilities/hall-2",
                                                                       "temperature", 21.5, "°C")
