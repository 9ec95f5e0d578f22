"""What makes a record usable: one home for every consumer (the agent's intake, the historian, the twin).

`Intake` holds the rules every record must pass wherever it is received: an ISA-95 asset path of six
segments, a signal name, a finite number within 64 bits or text, and a timestamp between 2000 and the
receiver's plant clock plus a lead (`Window`). A future-dated value would otherwise sit on top of every real
one after it; epoch seconds read as milliseconds land in 1970. The agent quarantines what fails, the
historian refuses it, the twin rejects it and lists it in `/api/rejected`: one rule, three receivers.

`conform` is what the twin (and an agent that knows the plant model) applies to each sample of a known
signal: the value must be of the signal's kind; a unit spelled differently is normalised, a different but
convertible unit is converted (°F to °C), an incompatible one refused; a value outside the signal's
plausible range is kept but marked uncertain, so one odd reading neither vanishes nor passes for good.

>>> from datetime import datetime, timezone
>>> from plantmodel.catalog import SignalSpec
>>> spec = SignalSpec(name="oil_temperature", unit="°C", range=(-20, 150))
>>> s = Sample("a/b/c/d/e/f", "oil_temperature", 212.0, "degF", datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> c = conform(s, spec)
>>> round(c.value, 6), c.unit, c.quality.value
(100.0, '°C', 'good')
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from plantmodel import units
from plantmodel.catalog import SignalKind, SignalSpec
from plantmodel.isa95 import is_asset_path
from plantmodel.telemetry import Event, EventKind, Quality, Record, Sample, to_micros

#: a signal name the historian, the unified namespace and the twin accept
SIGNAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: nothing in a plant's history is older: an earlier timestamp is a unit error (seconds read as ms) or a reset clock
OLDEST_US = to_micros(datetime(2000, 1, 1, tzinfo=UTC))
INT64 = (-(2**63), 2**63 - 1)
EVENT_KINDS = frozenset(EventKind)


class Refused(ValueError):
    """Why a sample cannot be used: `reason` is a short code, `field` the part of the sample at fault."""

    def __init__(self, reason: str, field: str, detail: str) -> None:
        self.reason, self.field, self.detail = reason, field, detail
        super().__init__(f"{field}: {detail}")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A rule's verdict as a value (the historian's hot path returns it rather than raising)."""

    reason: str
    field: str
    detail: str

    def error(self) -> Refused:
        return Refused(self.reason, self.field, self.detail)

    def of(self, record: Record) -> Rejection:
        return Rejection(record, self.reason, self.field, self.detail)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record refused, with why: kept by its receiver (the agent's quarantine, the twin's list) for inspection."""

    record: Record
    reason: str  # not_finite, wrong_type, bad_asset, bad_signal, bad_timestamp, ...
    field: str  # what was wrong, e.g. "value" or "ts"
    detail: str


def wall_us() -> int:
    return time.time_ns() // 1000


class Window:
    """The timestamps a receiver accepts now: from 2000 to its plant clock plus `max_future_s`."""

    def __init__(self, max_future_s: float = 3600.0, now_us: Callable[[], int] = wall_us) -> None:
        self.max_future_s, self.now_us = max_future_s, now_us
        self.lead_us = round(max_future_s * 1_000_000)

    def newest_us(self) -> int:
        return self.now_us() + self.lead_us

    def refusal(self, ts_us: int, newest_us: int | None = None) -> Refusal | None:
        if ts_us < OLDEST_US:
            return Refusal("bad_timestamp", "ts", "timestamp before 2000-01-01 (epoch seconds read as milliseconds?)")
        newest = self.newest_us() if newest_us is None else newest_us
        if ts_us > newest:
            ahead = (ts_us - newest) / 1e6 + self.max_future_s
            return Refusal("bad_timestamp", "ts", f"timestamp {ahead:.0f} s ahead of the plant clock (at most "
                                                  f"{self.max_future_s:g} s)")
        return None


def asset_refusal(asset: object) -> Refusal | None:
    if is_asset_path(asset):
        return None
    return Refusal("bad_asset", "asset", f"{asset!r:.80} is not an ISA-95 path of six segments")


def signal_refusal(signal: object) -> Refusal | None:
    if isinstance(signal, str) and SIGNAL_NAME.match(signal):
        return None
    return Refusal("bad_signal", "signal", f"{signal!r:.80} is not a signal name")


def value_refusal(value: object) -> Refusal | None:
    """A value any consumer can hold: text, or a finite number that fits 64 bits (the spool, the historian)."""
    if type(value) is float:
        return None if math.isfinite(value) else Refusal("not_finite", "value", f"{value} is not a finite number")
    if isinstance(value, int):
        if INT64[0] <= value <= INT64[1]:
            return None
        return Refusal("out_of_range", "value", f"integer {str(value)[:30]}… does not fit 64 bits")
    if isinstance(value, str):
        return None
    return Refusal("wrong_type", "value", f"expected a number or text, got {type(value).__name__}")


class Intake:
    """The rules every record passes where it is received; a series seen before costs one set lookup."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self._series: set[tuple[str, str]] = set()

    def refusal(self, record: Record) -> Refusal | None:
        if isinstance(record, Sample):
            key = (record.asset, record.signal)
            if key not in self._series:
                bad = asset_refusal(record.asset) or signal_refusal(record.signal)
                if bad is not None:
                    return bad
                if len(self._series) < 1_000_000:
                    self._series.add(key)
            bad = value_refusal(record.value)
        elif isinstance(record, Event):
            bad = asset_refusal(record.asset)
            if bad is None and record.kind not in EVENT_KINDS:
                bad = Refusal("wrong_type", "kind", f"unknown event kind {record.kind!r:.40}")
        else:
            return Refusal("wrong_type", "record", f"not a sample or an event: {type(record).__name__}")
        return bad or self.window.refusal(to_micros(record.ts))


def conform(sample: Sample, spec: SignalSpec) -> Sample:
    """The sample as the catalogue defines its signal, or `Refused` with the reason."""
    value = sample.value
    if spec.textual:
        if not isinstance(value, str):
            raise Refused("wrong_type", "value", f"{sample.asset}/{sample.signal} expects text, got {value!r:.60}")
        return sample
    if isinstance(value, str | bool):  # a switch is mapped to 0/1 at the edge, not guessed here
        raise Refused("wrong_type", "value", f"{sample.asset}/{sample.signal} expects a number, got {value!r:.60}")
    if isinstance(value, float) and not math.isfinite(value):
        raise Refused("not_finite", "value", f"{sample.asset}/{sample.signal}: {value} is not a finite number")
    if spec.kind is SignalKind.COUNTER and not isinstance(value, int):
        if not float(value).is_integer():
            raise Refused("wrong_type", "value", f"{sample.asset}/{sample.signal} is a counter, got {value!r}")
        value = int(value)
    unit = sample.unit
    if unit != spec.unit:
        unit = units.normalise(unit)
        if unit and unit != spec.unit:
            try:
                value = units.converter(unit, spec.unit)(float(value))
            except units.UnitError:
                raise Refused("wrong_unit", "unit", f"{sample.asset}/{sample.signal} is in {spec.unit or 'no unit'},"
                                                    f" got {sample.unit!r}") from None
        unit = spec.unit
    quality = sample.quality
    if spec.range is not None and quality is Quality.GOOD and not spec.range[0] <= value <= spec.range[1]:
        quality = Quality.UNCERTAIN
    if value is sample.value and unit == sample.unit and quality is sample.quality:
        return sample
    return dataclasses.replace(sample, value=value, unit=unit, quality=quality)
