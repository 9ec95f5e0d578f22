"""A sample checked against what the catalogue says of its signal: one home for every consumer.

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

from plantmodel import units
from plantmodel.catalog import SignalKind, SignalSpec
from plantmodel.telemetry import Quality, Sample


class Refused(ValueError):
    """Why a sample cannot be used: `reason` is a short code, `field` the part of the sample at fault."""

    def __init__(self, reason: str, field: str, detail: str) -> None:
        self.reason, self.field, self.detail = reason, field, detail
        super().__init__(f"{field}: {detail}")


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
