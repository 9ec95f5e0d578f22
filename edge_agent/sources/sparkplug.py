"""Sparkplug B edge nodes and devices as assets: births name the metrics, deaths mark their signals bad.

Part of the MQTT source's config (``sparkplug:``)::

    sparkplug:
      - group: Line 1                     # subscribes to spBv1.0/Line 1/#
        area: acme/plant1/packaging       # the ISA-95 enterprise/site/area the group's line belongs to
        # by default the group is the line, the edge node the cell and each device an asset:
        #   acme/plant1/packaging/line-1/gateway-1/press-2   (ids sanitised: lower case, - for spaces)
        # and the edge node's own metrics belong to an asset named after it in its cell:
        #   acme/plant1/packaging/line-1/gateway-1/gateway-1
        node_asset: "{area}/{group}/{edge_node}/{edge_node}"     # the defaults, written out
        device_asset: "{area}/{group}/{edge_node}/{device}"
        signals:                          # optional renames; default: snake case, / as . ("Zone 1/Temp" -> zone_1.temp)
          "Spindle/Speed": {signal: spindle_speed, unit: rpm}
        request_rebirth: true             # ask a node for its births when its data comes first
        rebirth_interval_s: 5             # ... at most this often per edge node

An asset path has six levels (enterprise/site/area/line/cell/asset), as the historian and the unified
namespace require: a template that cannot give six is refused when the config loads, naming its key.
``{area}`` fills three levels, ``{group}``, ``{edge_node}`` and ``{device}`` one each, with the ids
sanitised as `plantmodel.isa95.sanitise` does.

NBIRTH/DBIRTH announce every metric with its name, alias, datatype and current value; NDATA/DDATA then
carry changes, often by alias only, which the birth resolves. Data from an edge node whose birth the
agent has not seen (it joined late, or restarted) cannot be resolved: what comes by alias alone is
quarantined (``unknown_alias``) and the agent publishes NCMD ``Node Control/Rebirth`` = true to that
node, which answers with its births; from then on its data flows. NDEATH (the broker's will for the node,
matched by its bdSeq) and DDEATH repeat each signal of that node or device once with quality bad, so a
dead edge node shows as such instead of as steady values. Node control metrics and ``bdSeq`` are
protocol, not telemetry, and are not stored.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Self

from google.protobuf.message import DecodeError
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from edge_agent.discovery.draft import signal_name as draft_signal_name
from edge_agent.mapping import Mapper, MappingError, ValueMap
from edge_agent.sources.sparkplug_b import Payload, metric_value, property_text
from plantmodel import units
from plantmodel.isa95 import DEPTH, LEVELS, SEGMENT, sanitise
from plantmodel.telemetry import NO_COMMUNICATION, Quality, Sample, Value, from_micros
from plantmodel.uns import PayloadError

log = logging.getLogger(__name__)

NAMESPACE = "spBv1.0"
MESSAGE_TYPES = {"NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH", "NCMD", "DCMD"}
_UNIT_KEYS = ("engUnit", "EngUnit", "engineeringUnits", "Engineering Units", "unit")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]*)\}")
_AREA = re.compile(rf"^{SEGMENT}/{SEGMENT}/{SEGMENT}$")
_SEGMENT = re.compile(rf"^{SEGMENT}$")


class SparkplugSignal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    signal: str = Field(min_length=1)
    unit: str | None = Field(None, description="default: the metric's engUnit property")
    map: ValueMap | None = Field(None, description="how the metric's value becomes the signal's "
                                                   "(edge_agent/mapping.py)")

    _unit = field_validator("unit")(lambda unit: units.normalise(unit) if unit is not None else None)


class SparkplugMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    group: str = Field(pattern=r"^[^/#+]+$", description="Sparkplug group id")
    area: str | None = Field(None, description="ISA-95 enterprise/site/area of the group's line ({area})")
    node_asset: str = Field("{area}/{group}/{edge_node}/{edge_node}",
                            description="asset of node metrics: {area}, {group}, {edge_node}")
    device_asset: str = Field("{area}/{group}/{edge_node}/{device}",
                              description="asset of device metrics: {area}, {group}, {edge_node}, {device}")
    signals: dict[str, SparkplugSignal] = {}
    request_rebirth: bool = Field(True, description="publish NCMD Node Control/Rebirth for data before births")
    rebirth_interval_s: float = Field(5.0, gt=0, description="at most one rebirth request per edge node this often")

    @field_validator("area")
    @classmethod
    def _area(cls, value: str | None) -> str | None:
        if value is not None and not _AREA.match(value):
            raise ValueError("expected the ISA-95 path of an area, enterprise/site/area (three segments of "
                             "letters, digits, _ . -), e.g. acme/plant1/packaging")
        return value

    @field_validator("node_asset", "device_asset")
    @classmethod
    def _six_levels(cls, template: str, info: ValidationInfo) -> str:
        allowed = {"area", "group", "edge_node"} | ({"device"} if info.field_name == "device_asset" else set())
        levels = 0
        for level in template.split("/"):
            names = _PLACEHOLDER.findall(level)
            unknown = sorted(set(names) - allowed)
            if unknown:
                choices = ", ".join(f"{{{n}}}" for n in sorted(allowed))
                raise ValueError(f"{{{unknown[0]}}} is not a placeholder here; use {choices}")
            if "area" in names:
                if level != "{area}":
                    raise ValueError("{area} stands for three levels (enterprise/site/area): give it a level "
                                     "of its own, between slashes")
                levels += 3
            elif _SEGMENT.match(_PLACEHOLDER.sub("x", level)):
                levels += 1
            else:
                raise ValueError(f"{level!r} is not a path level (letters, digits, _ . - and placeholders)")
        if levels != DEPTH:
            example = "{area}/{group}/{edge_node}/" + ("{device}" if "device" in allowed else "{edge_node}")
            raise ValueError(f"gives {levels} levels; an asset path has {DEPTH} ({'/'.join(LEVELS)}), e.g. {example}")
        return template

    @model_validator(mode="after")
    def _area_given(self) -> Self:
        users = [k for k in ("node_asset", "device_asset") if "{area}" in getattr(self, k)]
        if users and self.area is None:
            raise ValueError(f"area: required by {' and '.join(users)} ({{area}}): the ISA-95 enterprise/site/area "
                             f"of the group's line, e.g. acme/plant1/packaging")
        return self

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
    born: bool = True  # False: data came before the birth (we joined late), which is still to come


class SparkplugDecoder:
    """State of every edge node and device seen on one mapping's group; not thread-safe (one MQTT thread)."""

    def __init__(self, mapping: SparkplugMapping) -> None:
        self.mapping = mapping
        self.births: dict[tuple[str, str], _Birth] = {}  # (edge_node, device or "") -> birth
        self.unborn: set[str] = set()  # edge nodes whose births are wanted
        self.asked: dict[str, float] = {}  # edge node -> when its rebirth was last requested (monotonic)
        self.rebirths_requested = 0
        self._said: set[str] = set()  # names whose sanitised id was logged
        self._mappers: dict[str, Mapper] = {}  # metric name -> its configured map, compiled

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
        if birth is None:  # data before any birth (we joined late): names still work, aliases wait for it
            birth = self.births[key] = _Birth(born=False)
        if not birth.born:
            self.unborn.add(node)
        asset = self._asset(node, device)
        samples: list[Sample] = []
        problems: list[PayloadError] = []
        default_ts = _ms(body.timestamp) if body.HasField("timestamp") else received
        for metric in body.metrics:
            try:
                named = self._sample(metric, birth, node, asset, default_ts, kind.endswith("BIRTH"))
                mapped = self._mapped(*named) if named is not None else []
            except PayloadError as exc:
                problems.append(exc)
                continue
            for s in mapped:
                birth.last[s.signal] = s
                samples.append(s)
        if problems:
            raise PartialPayload(samples, problems)
        return samples

    def _sample(self, metric: Any, birth: _Birth, node: str, asset: str, default_ts: datetime, is_birth: bool
                ) -> tuple[Sample, str] | None:
        """The metric's sample and its name (resolved from its alias when it came by alias)."""
        name = metric.name
        if is_birth:
            unit = units.normalise(property_text(metric, *_UNIT_KEYS))
            birth.units[name] = unit
            if metric.HasField("alias"):
                birth.metrics[metric.alias] = _Metric(name, metric.datatype, unit)
        elif not name:
            known = birth.metrics.get(metric.alias) if metric.HasField("alias") else None
            if known is None:
                self.unborn.add(node)
                raise PayloadError(f"alias {metric.alias}", "unknown_alias",
                                   "metric sent by alias that no birth certificate announced")
            name = known.name
        if not name:
            raise PayloadError("metric", "missing", "metric has neither a name nor an alias")
        if name == "bdSeq" or name.startswith("Node Control/"):
            return None
        mapped = self.mapping.signals.get(name)
        signal = mapped.signal if mapped else signal_name(name)
        unit = mapped.unit if mapped and mapped.unit is not None else birth.units.get(name, "")
        ts = _ms(metric.timestamp) if metric.HasField("timestamp") else default_ts
        value: Value | None = metric_value(metric)
        if value is None:
            last = birth.last.get(signal)
            if metric.is_null and last is not None:  # the device says: value unknown now
                return Sample(asset, signal, last.value, last.unit, ts, Quality.BAD), name
            raise PayloadError(name, "null_value" if metric.is_null else "unsupported_type",
                               "metric has no value" if metric.is_null else "metric value is not a scalar")
        if isinstance(value, float) and not math.isfinite(value):
            raise PayloadError(name, "not_finite", f"value is {value}")
        return Sample(asset, signal, value, unit, ts, Quality.GOOD), name

    def _mapped(self, sample: Sample, name: str) -> list[Sample]:
        """The metric's sample through its configured map, if it has one (a gap's repeat is not mapped again)."""
        rule = self.mapping.signals.get(name)
        if rule is None or rule.map is None or sample.quality is not Quality.GOOD:
            return [sample]
        mapper = self._mappers.get(name)
        if mapper is None:
            mapper = self._mappers[name] = Mapper(rule.map, sample.unit)
        try:
            out = mapper.apply(sample.value)
        except MappingError as exc:
            raise PayloadError(name, exc.reason, exc.detail) from None
        return [replace(sample, signal=sample.signal + m.suffix, value=m.value, unit=m.unit,
                        quality=m.quality or sample.quality) for m in out]

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
        return template.format(area=self.mapping.area, group=self._id(self.mapping.group), edge_node=self._id(node),
                               device=self._id(device) if device else "")

    def _id(self, name: str) -> str:
        """A Sparkplug id as an asset path level (`plantmodel.isa95.sanitise`), said once when it changes."""
        known, changed = _path_id(name)
        if changed and name not in self._said and len(self._said) < 1000:
            self._said.add(name)
            log.info("Sparkplug %s: id %r is %r in asset paths", self.mapping.group, name, known)
        return known

    def rebirths_due(self, now: float) -> list[str]:
        """Edge nodes to ask for their births now: data came before them, and not asked within the interval."""
        if not self.mapping.request_rebirth:
            self.unborn.clear()
            return []
        due = [n for n in sorted(self.unborn) if now - self.asked.get(n, -1e18) >= self.mapping.rebirth_interval_s]
        self.unborn.clear()
        for node in due:
            self.asked[node] = now
        self.rebirths_requested += len(due)
        return due


@lru_cache(maxsize=4096)
def _path_id(name: str) -> tuple[str, bool]:
    return sanitise(name)


@lru_cache(maxsize=4096)
def signal_name(metric: str) -> str:
    """A metric name as a signal name, as discovery names OPC UA browse paths: snake case, "/" levels as dots.

    >>> signal_name("Zone 1/Temperature"), signal_name("Status Word"), signal_name("Motor/Speed")
    ('zone_1.temperature', 'status_word', 'motor.speed')
    """
    return draft_signal_name(tuple(metric.split("/")))


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
