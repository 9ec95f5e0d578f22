"""Property-based fuzzing of the payload mappings and the config loader: no crash, every rejection counted.

For a message, each mapped field (or Sparkplug metric) ends as exactly one sample or exactly one counted
rejection, unless the whole message is rejected once. For a config, the loader returns a model or raises
ConfigError naming the file; nothing else escapes.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import orjson
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import PROJECT

from edge_agent.config import agent_config_model
from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sources.mqtt import MqttSource, MqttSourceConfig
from edge_agent.sources.sparkplug_b import Payload
from plantmodel.config import ConfigError, parse_config

REASONS = {"malformed_json", "missing", "wrong_type", "not_finite", "bad_timestamp", "unknown_topic",
           "malformed_number", "malformed_protobuf", "bad_topic", "unknown_alias", "unsupported_type",
           "null_value", "stale_death"}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)
timestamps = st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.none(), st.just("2026-11-29T10:00:00Z"),
                       st.integers(min_value=0, max_value=4_000_000_000_000))


class Fuzzed:
    """One MQTT source with a JSON, a number and a Sparkplug mapping, and a way to count what a message did."""

    def __init__(self, folder: Path) -> None:
        config = MqttSourceConfig.model_validate({
            "type": "mqtt", "name": "fuzz",
            "subscriptions": [
                {"topic": "dev/{id}/state", "asset": "a/{id}", "timestamp": "ts", "fields": {
                    "speed": {"path": "m.speed"}, "count": {"path": "count", "type": "integer"},
                    "mode": {"path": "mode", "type": "text"}, "on": {"path": "on", "type": "boolean"}}},
                {"topic": "dev/{id}/temp", "format": "number", "asset": "a/{id}", "fields": {"temp": {}}}],
            "sparkplug": [{"group": "g", "area": "a/b/c"}]})
        self.quarantine = Quarantine(folder / "q.db")
        self.source = MqttSource(config, PluginContext("agent", folder, lambda s: None, self.quarantine))

    def decode(self, topic: str, payload: bytes) -> tuple[int, int]:
        """(samples, rejections) this one message produced."""
        before = self.quarantine.total()
        samples = self.source.decode(topic, payload)
        assert set(r for _, r in self.quarantine.counts) <= REASONS, self.quarantine.counts
        for s in samples:
            assert not (isinstance(s.value, float) and not math.isfinite(s.value))
        return len(samples), self.quarantine.total() - before


def _fuzzed() -> tuple[Fuzzed, tempfile.TemporaryDirectory[str]]:
    tmp = tempfile.TemporaryDirectory()
    return Fuzzed(Path(tmp.name)), tmp


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["ts", "m", "count", "mode", "on", "x"]), json_value, max_size=6),
       ts=timestamps, speed=json_value)
def test_json_mapping_accounts_for_every_field(body: dict[str, Any], ts: Any, speed: Any) -> None:
    f, tmp = _fuzzed()
    with tmp:
        body = {**body, "ts": ts, "m": {"speed": speed}}
        try:
            payload = orjson.dumps(body)
        except (TypeError, orjson.JSONEncodeError):
            payload = repr(body).encode()
        samples, rejected = f.decode("dev/x1/state", payload)
        assert (samples, rejected) == (0, 1) or samples + rejected == 4, (samples, rejected, body)
        f.quarantine.close()


@FUZZ
@given(payload=st.binary(max_size=64), topic=st.sampled_from(
    ["dev/x/state", "dev/x/temp", "dev/x", "other", "spBv1.0/g/NDATA/n", "spBv1.0/g/DDATA/n/d", "spBv1.0/g/X/n"]))
def test_arbitrary_bytes_never_crash(payload: bytes, topic: str) -> None:
    f, tmp = _fuzzed()
    with tmp:
        samples, rejected = f.decode(topic, payload)
        assert samples + rejected >= 1 or topic.startswith("spBv1.0")  # sparkplug data may hold no metrics
        if topic in ("dev/x/temp", "dev/x", "other"):
            assert samples + rejected == 1
        f.quarantine.close()


metric = st.fixed_dictionaries({
    "name": st.sampled_from(["", "a", "b/c", "Temp"]),
    "alias": st.integers(min_value=0, max_value=5),
    "datatype": st.integers(min_value=0, max_value=21),
    "kind": st.sampled_from(["int_value", "long_value", "float_value", "double_value", "boolean_value",
                             "string_value", "bytes_value", None]),
    "raw": st.integers(min_value=0, max_value=2**32 - 1) | st.floats(width=32) | st.booleans() | st.text(max_size=5),
    "is_null": st.booleans(),
    "timestamp": st.none() | st.integers(min_value=0, max_value=2**64 - 1),
})


def _encode(metrics: list[dict[str, Any]], ts: int | None) -> bytes:
    p = Payload(seq=1)
    if ts is not None:
        p.timestamp = ts
    for m in metrics:
        out = p.metrics.add(alias=m["alias"], datatype=m["datatype"], is_null=m["is_null"])
        if m["name"]:
            out.name = m["name"]
        if m["timestamp"] is not None:
            out.timestamp = m["timestamp"]
        kind, raw = m["kind"], m["raw"]
        try:
            if kind == "bytes_value":
                setattr(out, kind, str(raw).encode())
            elif kind is not None:
                setattr(out, kind, raw)
        except (TypeError, ValueError):
            pass  # a value the field cannot hold: the metric goes without one
    return p.SerializeToString()


@FUZZ
@given(birth=st.lists(metric, max_size=4), data=st.lists(metric, max_size=5),
       ts=st.none() | st.integers(min_value=0, max_value=2**64 - 1),
       kinds=st.lists(st.sampled_from(["NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH"]), max_size=4))
def test_sparkplug_sequences_account_for_every_metric(birth: list[dict[str, Any]], data: list[dict[str, Any]],
                                                      ts: int | None, kinds: list[str]) -> None:
    f, tmp = _fuzzed()
    with tmp:
        f.decode("spBv1.0/g/NBIRTH/n", _encode(birth, 1))
        for kind in kinds:
            f.decode(f"spBv1.0/g/{kind}/n" + ("/d" if kind.startswith("D") else ""), _encode(data, ts))
        samples, rejected = f.decode("spBv1.0/g/NDATA/n", _encode(data, ts))
        assert (samples, rejected) == (0, 1) or samples + rejected == len(data)
        f.quarantine.close()


DEMO = yaml.safe_load((PROJECT / "configs" / "edge-demo.yaml").read_text())


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


LEAVES = _leaves(DEMO)


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


def _load(text: str) -> None:
    try:
        parse_config(text, agent_config_model(), "fuzz.yaml", env={"FT_DATA_DIR": "/nonexistent/fuzz"})
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml: invalid configuration") and exc.problems


@FUZZ
@given(leaf=st.sampled_from(LEAVES), value=json_value)
def test_config_loader_mutated_demo_config(leaf: tuple[Any, ...], value: Any) -> None:
    _load(yaml.safe_dump(_replace(DEMO, leaf, value)))


@FUZZ
@given(text=st.text(max_size=200) | json_value.map(lambda v: yaml.safe_dump(v)))
def test_config_loader_arbitrary_text(text: str) -> None:
    _load(text)
