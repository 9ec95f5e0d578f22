"""The one telemetry schema that flows from a machine to the historian and the twin.

A `Sample` is one value of one signal of one asset at one instant, as the source stamped it.
An `Event` is something that happened to an asset: a state change, a part made or scrapped, an alarm.

>>> from datetime import datetime, timezone
>>> s = Sample("acme/plant1/machining/line1/turning/cnc-1", "spindle_speed", 12000.0, "rpm",
...            datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> s.quality
<Quality.GOOD: 'good'>
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

Value = float | int | bool | str

#: The signal that carries an asset's operating state; its changes become `state_change` events.
STATE_SIGNAL = "state"
#: Status of a repeated last value that marks lost communication (OPC-UA BadNoCommunication).
NO_COMMUNICATION = 0x80310000
#: Counters whose increments become `part` events (name -> outcome).
PART_COUNTERS: Mapping[str, str] = {"parts_good": "good", "parts_scrap": "scrap", "parts_rework": "rework"}


class Quality(StrEnum):
    """Sample quality, the three OPC-UA severities; the exact status code travels beside it."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


class EventKind(StrEnum):
    STATE_CHANGE = "state_change"
    PART = "part"
    ALARM = "alarm"


class AssetState(StrEnum):
    """Operating states, chosen to map onto the ISO 22400 time model (OEE needs them)."""

    PRODUCING = "producing"
    IDLE = "idle"
    STARVED = "starved"
    BLOCKED = "blocked"
    DOWN = "down"
    SETUP = "setup"
    PLANNED_STOP = "planned_stop"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Sample:
    asset: str
    signal: str
    value: Value
    unit: str
    ts: datetime
    quality: Quality = Quality.GOOD
    status: int = 0  # the source's exact status code (OPC-UA StatusCode; 0 is Good) behind `quality`
    server_ts: datetime | None = None  # when the server, as opposed to the device, stamped the value


@dataclass(frozen=True, slots=True)
class Event:
    asset: str
    kind: EventKind
    ts: datetime
    # state_change: {"from": str|None, "to": str, "reason"?: str}; part: {"outcome": "good"|"scrap"|"rework",
    # "count": int}; alarm: {"alarm_code": str, "active": bool}
    data: Mapping[str, Any] = field(default_factory=dict)


Record = Sample | Event


def utc(ts: datetime) -> datetime:
    """Naive timestamps are taken as UTC (OPC-UA DateTime is UTC by definition)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def to_micros(ts: datetime) -> int:
    """Microseconds since the epoch: the resolution every part of the system keeps."""
    try:
        return (ts - EPOCH) // _ONE_US  # exact integer arithmetic; the hot path for aware timestamps
    except TypeError:  # naive: taken as UTC
        return (utc(ts) - EPOCH) // _ONE_US


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)  # exact; one object, on every sample's path


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
