"""Sparkplug B edge nodes and devices as assets: births name the metrics, deaths mark their signals bad.

Part of the MQTT source's config (``sparkplug:``)::

    sparkplug:
      - group: line1                                  # subscribes to spBv1.0/line1/#
        node_asset: acme/plant1/machining/line1/{edge_node}
        device_asset: acme/plant1/machining/line1/{device}
        signals:                                      # optional renames; default: the metric name, / as .
          "Spindle/Speed": {signal: spindle_speed, unit: rpm}

NBIRTH/DBIRTH announce every metric with its name, alias, datatype and current value; NDATA/DDATA then
carry changes, often by alias only, which the birth resolves. NDEATH (the broker's will for the node,
matched by its bdSeq) and DDEATH repeat each signal of that node or device once with quality bad, so a
dead edge node shows as such instead of as steady values. Node control metrics and ``bdSeq`` are
protocol, not telemetry, and are not stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError
from pydantic import BaseModel, ConfigDict, Field

from edge_agent.sources.sparkplug_b import Payload, metric_value, property_text
from plantmodel.telemetry import NO_COMMUNICATION, Quality, Sample, Value, from_micros
from plantmodel.uns import PayloadError

NAMESPACE = "spBv1.0"
MESSAGE_TYPES = {"NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH", "NCMD", "DCMD"}
_UNIT_KEYS = ("engUnit", "EngUnit", "engineeringUnits", "Engineering Units", "unit")


class SparkplugSignal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    signal: str = Field(min_length=1)
    unit: str | None = Field(None, description="default: the metric's engUnit property")


class SparkplugMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    group: str = Field(pattern=r"^[^/#+]+$", description="Sparkplug group id")
    node_asset: str = Field("{group}/{edge_node}", description="asset of node metrics: {group}, {edge_node}")
    device_asset: str = Field("{group}/{edge_node}/{device}", description="asset of device metrics")
    signals: dict[str, SparkplugSignal] = {}

    @property
    def filter(self) -> str:
        return f"{NAMESPACE}/{self.group}/#"


@dataclass
class _Metric:
    name: str
    datatype: int
    unit: str


@dataclass
class _Birth:
    """What a birth certificate announced, and the last sample of each signal for the death to repeat."""

    metrics: dict[int, _Metric] = field(default_factory=dict)  # alias -> metric
    units: dict[str, str] = field(default_factory=dict)  # name -> unit
    last: dict[str, Sample] = field(default_factory=dict)  # signal -> last sample
    bd_seq: int | None = None


class SparkplugDecoder:
    """State of every edge node and device seen on one mapping's group; not thread-safe (one MQTT thread)."""

    def __init__(self, mapping: SparkplugMapping) -> None:
        self.mapping = mapping
        self.births: dict[tuple[str, str], _Birth] = {}  # (edge_node, device or "") -> birth

    def decode(self, topic: str, payload: bytes, received: datetime | None = None) -> list[Sample]:
        """Samples for one message; raises PayloadError with the reason for what cannot be used."""
        levels = topic.split("/")
        if len(levels) not in (4, 5) or levels[0] != NAMESPACE or levels[2] not in MESSAGE_TYPES:
            raise PayloadError("topic", "bad_topic", "expected spBv1.0/<group>/<message type>/<edge node>[/<device>]")
        kind, node, device = levels[2], levels[3], levels[4] if len(levels) == 5 else ""
        if kind.startswith("D") != bool(device):
            raise PayloadError("topic", "bad_topic", f"{kind} {'needs' if kind.startswith('D') else 'takes no'} device")
        if kind in ("NCMD", "DCMD"):
            return []  # commands to the node, not telemetry
        try:
            body = Payload.FromString(payload)
        except DecodeError as exc:
            raise PayloadError("payload", "malformed_protobuf", f"not a Sparkplug B payload: {exc}") from None
        received = received or datetime.now(UTC)
        key = (node, device)
        if kind == "NBIRTH":
            for k in [k for k in self.births if k[0] == node]:  # a node's rebirth resets its devices too
                del self.births[k]
            self.births[key] = _Birth(bd_seq=_bd_seq(body))
        elif kind == "DBIRTH":
            self.births[key] = _Birth()
        elif kind == "NDEATH":
            return self._death(node, None, _bd_seq(body), received)
        elif kind == "DDEATH":
            return self._death(node, device, None, received)
        birth = self.births.get(key)
        if birth is None:
            birth = self.births[key] = _Birth()  # data before any birth (we joined late): names still work
        asset = self._asset(node, device)
        samples: list[Sample] = []
        problems: list[PayloadError] = []
        default_ts = _ms(body.timestamp) if body.HasField("timestamp") else received
        for metric in body.metrics:
            try:
                sample = self._sample(metric, birth, asset, default_ts, kind.endswith("BIRTH"))
            except PayloadError as exc:
                problems.append(exc)
                continue
            if sample is not None:
                birth.last[sample.signal] = sample
                samples.append(sample)
        if problems:
            raise PartialPayload(samples, problems)
        return samples

    def _sample(self, metric: Any, birth: _Birth, asset: str, default_ts: datetime, is_birth: bool) -> Sample | None:
        name = metric.name
        if is_birth:
            unit = property_text(metric, *_UNIT_KEYS)
            birth.units[name] = unit
            if metric.HasField("alias"):
                birth.metrics[metric.alias] = _Metric(name, metric.datatype, unit)
        elif not name:
            known = birth.metrics.get(metric.alias) if metric.HasField("alias") else None
            if known is None:
                raise PayloadError(f"alias {metric.alias}", "unknown_alias",
                                   "metric sent by alias that no birth certificate announced")
            name = known.name
        if not name:
            raise PayloadError("metric", "missing", "metric has neither a name nor an alias")
        if name == "bdSeq" or name.startswith("Node Control/"):
            return None
        mapped = self.mapping.signals.get(name)
        signal = mapped.signal if mapped else name.replace("/", ".")
        unit = mapped.unit if mapped and mapped.unit is not None else birth.units.get(name, "")
        ts = _ms(metric.timestamp) if metric.HasField("timestamp") else default_ts
        value: Value | None = metric_value(metric)
        if value is None:
            last = birth.last.get(signal)
            if metric.is_null and last is not None:  # the device says: value unknown now
                return Sample(asset, signal, last.value, unit, ts, Quality.BAD)
            raise PayloadError(name, "null_value" if metric.is_null else "unsupported_type",
                               "metric has no value" if metric.is_null else "metric value is not a scalar")
        if isinstance(value, float) and not math.isfinite(value):
            raise PayloadError(name, "not_finite", f"value is {value}")
        return Sample(asset, signal, value, unit, ts, Quality.GOOD)

    def _death(self, node: str, device: str | None, bd_seq: int | None, received: datetime) -> list[Sample]:
        keys = [(node, device)] if device is not None else [k for k in self.births if k[0] == node]
        born = self.births.get((node, ""))
        if device is None and born is not None and None not in (born.bd_seq, bd_seq) and born.bd_seq != bd_seq:
            raise PayloadError("bdSeq", "stale_death", f"death of session {bd_seq}, the node is in session "
                                                       f"{born.bd_seq}: an old will, ignored")
        marks = []
        for key in keys:
            birth = self.births.pop(key, None)
            if birth is None:
                continue
            marks += [Sample(s.asset, s.signal, s.value, s.unit, max(received, s.ts), Quality.BAD, NO_COMMUNICATION)
                      for s in birth.last.values()]
        return marks

    def _asset(self, node: str, device: str) -> str:
        template = self.mapping.device_asset if device else self.mapping.node_asset
        return template.format(group=self.mapping.group, edge_node=node, device=device)


class PartialPayload(Exception):
    """Some metrics of a message were usable, some not: the samples flow, each problem is counted."""

    def __init__(self, samples: list[Sample], problems: list[PayloadError]) -> None:
        super().__init__(f"{len(problems)} unusable metrics")
        self.samples, self.problems = samples, problems


def _bd_seq(body: Any) -> int | None:
    for metric in body.metrics:
        if metric.name == "bdSeq":
            value = metric_value(metric)
            return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return None


def _ms(epoch_ms: int) -> datetime:
    try:
        return from_micros(epoch_ms * 1000)
    except (OverflowError, OSError, ValueError):
        raise PayloadError("timestamp", "bad_timestamp", f"{epoch_ms} is not a usable epoch-milliseconds time"
                           ) from None
