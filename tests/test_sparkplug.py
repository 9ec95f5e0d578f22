"""Sparkplug B and plain-number payloads: births name metrics, aliases resolve, deaths mark signals bad."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.config import agent_config_model
from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sources.mqtt import MqttSource, MqttSourceConfig
from edge_agent.sources.sparkplug import PartialPayload, SparkplugDecoder, SparkplugMapping
from edge_agent.sources.sparkplug_b import DataType, Payload
from plantmodel.config import ConfigError, load_config
from plantmodel.isa95 import is_asset_path
from plantmodel.telemetry import NO_COMMUNICATION, Quality

LINE = "acme/plant1/machining/line1"
NODE, DEVICE = f"{LINE}/gateways/gw-1", f"{LINE}/assembly/cnc-1"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[MqttSource]:
    config = MqttSourceConfig.model_validate({
        "type": "mqtt", "name": "spb",
        "subscriptions": [{"topic": "sensors/{room}/temperature", "format": "number",
                           "asset": "acme/plant1/utilities/{room}", "fields": {"temperature": {"unit": "degC"}}}],
        "sparkplug": [{"group": "line1", "node_asset": f"{LINE}/gateways/{{edge_node}}",
                       "device_asset": f"{LINE}/assembly/{{device}}",
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
    assert [(s.asset, s.signal, s.value, s.unit) for s in node] == [(NODE, "uptime", 10, "s")]
    dev = {s.signal: s for s in source.decode("spBv1.0/line1/DBIRTH/gw-1/cnc-1", device_birth())}
    assert {k: (v.value, v.unit) for k, v in dev.items()} == {
        "spindle_speed": (1200.0, "rpm"), "temp": (-5, ""), "state": ("producing", "")}
    assert all(s.asset == DEVICE and s.quality == Quality.GOOD for s in dev.values())
    data = source.decode("spBv1.0/line1/DDATA/gw-1/cnc-1", payload(
        {"alias": 10, "datatype": DataType.Double, "double_value": 1250.0, "timestamp": 1_780_000_000_500}))
    assert [(s.signal, s.value, s.unit, s.ts.microsecond) for s in data] == [("spindle_speed", 1250.0, "rpm", 500000)]
    # the broker publishes the node's will when it drops off: every signal of node and devices turns bad
    dead = source.decode("spBv1.0/line1/NDEATH/gw-1", payload({"name": "bdSeq", "datatype": 4, "long_value": 0}))
    assert {(s.asset, s.signal, s.value) for s in dead} == {
        (NODE, "uptime", 10), (DEVICE, "spindle_speed", 1250.0), (DEVICE, "temp", -5),
        (DEVICE, "state", "producing")}
    assert all(s.quality == Quality.BAD and s.status == NO_COMMUNICATION for s in dead)
    assert source.ctx.quarantine.total() == 0


def test_device_death_marks_only_that_device(source: MqttSource) -> None:
    source.decode("spBv1.0/line1/NBIRTH/gw-1", birth())
    source.decode("spBv1.0/line1/DBIRTH/gw-1/cnc-1", device_birth())
    dead = source.decode("spBv1.0/line1/DDEATH/gw-1/cnc-1", payload())
    assert {s.asset for s in dead} == {DEVICE} and len(dead) == 3


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


def _decoder(**mapping: Any) -> SparkplugDecoder:
    return SparkplugDecoder(SparkplugMapping.model_validate({"group": "Line 1", "area": "acme/plant1/packaging",
                                                             **mapping}))


def test_default_mapping_gives_six_level_paths_and_signal_names_the_historian_accepts() -> None:
    from historian.checks import SIGNAL_NAME

    d = _decoder()
    node = d.decode("spBv1.0/Line 1/NBIRTH/Gateway 1", birth())
    dev = d.decode("spBv1.0/Line 1/DBIRTH/Gateway 1/Press 2", payload(
        {"name": "Zone 1/Temperature", "alias": 12, "datatype": DataType.Double, "double_value": 180.0,
         "unit": "°C"}, {"name": "Status Word", "alias": 13, "datatype": DataType.UInt16, "int_value": 5}))
    assert {(s.asset, s.signal) for s in node} == {("acme/plant1/packaging/line-1/gateway-1/gateway-1", "uptime")}
    assert {(s.asset, s.signal, s.unit) for s in dev} == {
        ("acme/plant1/packaging/line-1/gateway-1/press-2", "zone_1.temperature", "°C"),
        ("acme/plant1/packaging/line-1/gateway-1/press-2", "status_word", "")}
    assert all(is_asset_path(s.asset) and SIGNAL_NAME.match(s.signal) for s in [*node, *dev])


@pytest.mark.parametrize(("mapping", "key", "reason"), [
    ({"node_asset": "acme/plant1/machining/line1/{edge_node}"}, "node_asset", "gives 5 levels"),
    ({"device_asset": "{area}/{group}/{device}"}, "device_asset", "gives 5 levels"),
    ({"device_asset": "{area}/{group}/{edge_node}/cell/{device}"}, "device_asset", "gives 7 levels"),
    ({"node_asset": "{area}/{group}/{edge_node}/{device}"}, "node_asset", "{device} is not a placeholder here"),
    ({"device_asset": "{area}-x/{group}/{edge_node}/{device}"}, "device_asset", "{area} stands for three levels"),
    ({"device_asset": "{area}/{group}/my cell/{device}"}, "device_asset", "'my cell' is not a path level"),
    ({"area": "acme/plant1"}, "area", "enterprise/site/area"),
    ({"area": None}, "area", "required by node_asset and device_asset"),
])
def test_a_mapping_that_cannot_give_six_levels_is_refused_at_load_naming_its_key(
        tmp_path: Path, mapping: dict[str, Any], key: str, reason: str) -> None:
    group = {"group": "line1", "area": "acme/plant1/machining", **mapping}
    if group["area"] is None:
        del group["area"]
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({"name": "e", "data_dir": str(tmp_path), "sources": [
        {"type": "mqtt", "name": "gw", "sparkplug": [group]}], "sinks": [
        {"type": "historian", "name": "h", "path": str(tmp_path / "h.db")}]}))
    with pytest.raises(ConfigError) as err:
        load_config(cfg, agent_config_model())
    assert f"sources[0].sparkplug[0].{key}" in str(err.value) and reason in str(err.value), str(err.value)


def test_data_before_the_births_asks_for_a_rebirth_at_most_once_per_interval_then_resolves() -> None:
    d = _decoder(rebirth_interval_s=10)
    ddata = payload({"alias": 10, "datatype": DataType.Double, "double_value": 1.0})
    with pytest.raises(PartialPayload) as partial:  # joined late: the aliases are unknown
        d.decode("spBv1.0/Line 1/DDATA/Gateway 1/Press 2", ddata)
    assert [p.reason for p in partial.value.problems] == ["unknown_alias"]
    assert d.rebirths_due(now=100.0) == ["Gateway 1"]
    with pytest.raises(PartialPayload):
        d.decode("spBv1.0/Line 1/DDATA/Gateway 1/Press 2", ddata)
    assert d.rebirths_due(now=105.0) == []  # asked 5 s ago
    d.decode("spBv1.0/Line 1/NDATA/Gateway 2", payload({"name": "uptime", "datatype": 4, "long_value": 1}))
    assert d.rebirths_due(now=106.0) == ["Gateway 2"]  # by name it flows, but its births are wanted too
    d.decode("spBv1.0/Line 1/NBIRTH/Gateway 1", birth())
    d.decode("spBv1.0/Line 1/DBIRTH/Gateway 1/Press 2", device_birth())
    (sample,) = d.decode("spBv1.0/Line 1/DDATA/Gateway 1/Press 2", ddata)
    assert (sample.signal, sample.value, sample.unit) == ("spindle.speed", 1.0, "rpm")
    assert d.rebirths_due(now=200.0) == [] and d.rebirths_requested == 2


def test_the_source_publishes_the_rebirth_request_as_tahu_expects(tmp_path: Path) -> None:
    config = MqttSourceConfig.model_validate({"type": "mqtt", "name": "spb", "sparkplug": [
        {"group": "Line 1", "area": "acme/plant1/packaging"}]})
    quarantine = Quarantine(tmp_path / "q.db")
    source = MqttSource(config, PluginContext("agent", tmp_path, lambda s: None, quarantine))
    sent: list[tuple[str, bytes, int]] = []
    source.client.publish = lambda topic, body, qos=0: sent.append((topic, body, qos))  # type: ignore[method-assign,assignment]
    try:
        assert source.decode("spBv1.0/Line 1/DDATA/Gateway 1/Press 2", payload({"alias": 10, "datatype": 10})) == []
        ((topic, body, qos),) = sent
        assert topic == "spBv1.0/Line 1/NCMD/Gateway 1" and qos == 0
        (metric,) = Payload.FromString(body).metrics
        assert (metric.name, metric.datatype, metric.boolean_value) == ("Node Control/Rebirth", DataType.Boolean,
                                                                         True)
        assert quarantine.counts == {("spb", "unknown_alias"): 1}
    finally:
        quarantine.close()


def test_an_infinite_value_is_rejected_like_nan(source: MqttSource) -> None:
    source.decode("spBv1.0/line1/NBIRTH/gw-1", birth())
    assert source.decode("spBv1.0/line1/NDATA/gw-1", payload(
        {"name": "x", "datatype": DataType.Double, "double_value": float("inf")})) == []
    assert source.ctx.quarantine.counts == {("spb", "not_finite"): 1}


def test_a_metric_mapping_turns_a_status_word_into_states_by_alias(tmp_path: Path) -> None:
    config = MqttSourceConfig.model_validate({
        "type": "mqtt", "name": "spb",
        "sparkplug": [{"group": "line1", "node_asset": f"{LINE}/gateways/{{edge_node}}",
                       "device_asset": f"{LINE}/assembly/{{device}}",
                       "signals": {"Status Word": {"signal": "state",
                                                   "map": {"bits": {2: "down", 0: "producing"}, "default": "idle"}},
                                   "Oil/Temp": {"signal": "oil_temperature", "unit": "degF",
                                                "map": {"to_unit": "degC"}}}}]})
    quarantine = Quarantine(tmp_path / "q.db")
    source = MqttSource(config, PluginContext("agent", tmp_path, lambda s: None, quarantine))
    try:
        born = source.decode("spBv1.0/line1/DBIRTH/gw-1/cnc-1", payload(
            {"name": "Status Word", "alias": 1, "datatype": DataType.UInt16, "int_value": 1},
            {"name": "Oil/Temp", "alias": 2, "datatype": DataType.Double, "double_value": 212.0}))
        assert {s.signal: (s.value, s.unit) for s in born} == {"state": ("producing", ""),
                                                               "oil_temperature": (100.0, "°C")}
        data = source.decode("spBv1.0/line1/DDATA/gw-1/cnc-1", payload(
            {"alias": 1, "datatype": DataType.UInt16, "int_value": 0b101}))
        assert [(s.signal, s.value) for s in data] == [("state", "down")]
    finally:
        quarantine.close()
