"""The old shift-calendar form (hours within a repeating period), read only to be converted.

A line's ``simulation.calendar`` was once written as hours within a period that repeats (``period_h``
24: daily, 168: weekly, starting Monday 00:00)::

    calendar: {period_h: 24, shifts: [{start: "06:00", end: "14:00"}], breaks: [{start: 10, end: 10.5}],
               maintenance: [{start: 13, end: 14}]}

It is now a wall-clock `plantmodel.shifts.ShiftCalendarConfig`, the calendar the twin's OEE reads. A file
in the old form is still read: `upgrade` turns it into the new form (in the site's time zone) and warns
with the new form to write instead. A period that is neither a day nor a week cannot be written as
wall-clock shifts and is refused.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from itertools import pairwise
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from plantmodel.shifts import WEEKDAYS, ShiftCalendarConfig

OLD_KEYS = frozenset({"period_h", "breaks", "maintenance"})
NEW_KEYS = frozenset({"timezone", "holidays", "planned_downtime"})
DAY_MIN = 1440


class DeprecatedConfig(FutureWarning):
    """A configuration written in a form that is still read but will not be for ever (shown by default: it is
    meant for whoever writes the file, not for the programmer)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_HHMM = re.compile(r"^(\d{1,3}):([0-5]\d)$")


def _hours(value: Any) -> Any:
    """'06:30' -> 6.5; numbers pass as hours."""
    if isinstance(value, str):
        m = _HHMM.match(value.strip())
        if not m:
            raise ValueError(f"expected a time like '06:00' or a number of hours; got {value!r}")
        return int(m.group(1)) + int(m.group(2)) / 60
    return value


Hours = Annotated[float, BeforeValidator(_hours), Field(ge=0)]


class Interval(_Strict):
    start: Hours
    end: Hours

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start (split a shift that crosses midnight in two)")
        return self


def _no_overlap(intervals: list[Interval], name: str) -> list[Interval]:
    ordered = sorted(enumerate(intervals), key=lambda p: p[1].start)
    for (i, a), (j, b) in pairwise(ordered):
        if b.start < a.end:
            raise ValueError(f"{name}[{j}] overlaps {name}[{i}]")
    return intervals


class PeriodCalendar(_Strict):
    """The old form: a pattern repeating every `period_h`; shifts are planned operation time, breaks and
    maintenance inside them planned stops. Read only to be converted."""

    period_h: float = Field(24.0, gt=0, description="hours after which the pattern repeats (24: daily, 168: weekly)")
    shifts: list[Interval] = Field(min_length=1)
    breaks: list[Interval] = []
    maintenance: list[Interval] = []

    @field_validator("shifts")
    @classmethod
    def _shifts_apart(cls, v: list[Interval]) -> list[Interval]:
        return _no_overlap(v, "shifts")

    @field_validator("breaks")
    @classmethod
    def _breaks_apart(cls, v: list[Interval]) -> list[Interval]:
        return _no_overlap(v, "breaks")

    @field_validator("maintenance")
    @classmethod
    def _pm_apart(cls, v: list[Interval]) -> list[Interval]:
        return _no_overlap(v, "maintenance")

    @model_validator(mode="after")
    def _inside(self) -> Self:
        for name, items in (("shifts", self.shifts), ("breaks", self.breaks), ("maintenance", self.maintenance)):
            for i, iv in enumerate(items):
                if iv.end > self.period_h:
                    raise ValueError(f"{name}[{i}] ends after the period ({self.period_h} h)")
        stops = [("breaks", i, iv) for i, iv in enumerate(self.breaks)]
        stops += [("maintenance", i, iv) for i, iv in enumerate(self.maintenance)]
        for name, i, iv in stops:
            if not any(s.start <= iv.start and iv.end <= s.end for s in self.shifts):
                raise ValueError(f"{name}[{i}] is not inside a shift")
        for i, b in enumerate(self.breaks):
            for j, m in enumerate(self.maintenance):
                if b.start < m.end and m.start < b.end:
                    raise ValueError(f"maintenance[{j}] overlaps breaks[{i}]")
        return self


def is_period_form(raw: Any) -> bool:
    """A calendar written in the old form: a period or breaks/maintenance at the top, or shifts that are bare
    start/end pairs (a wall-clock shift has a name)."""
    if not isinstance(raw, Mapping) or NEW_KEYS & raw.keys():
        return False
    if OLD_KEYS & raw.keys():
        return True
    shifts = raw.get("shifts")
    return isinstance(shifts, list) and bool(shifts) and all(
        isinstance(s, Mapping) and s.keys() <= {"start", "end"} for s in shifts)


def _minute(hours: float, where: str) -> int:
    m = round(hours * 60)
    if not math.isclose(m, hours * 60, abs_tol=1e-6):
        raise ValueError(f"{where}: {hours} h does not fall on a whole minute")
    return m


def _clock(minute: int) -> str:
    return f"{minute % DAY_MIN // 60:02d}:{minute % 60:02d}"


def convert(raw: Any, where: str, timezone: str = "UTC") -> ShiftCalendarConfig:
    """The wall-clock calendar equal to an old-form one: hour h of the period is, in `timezone`, the time of
    day h mod 24 (weekly: of weekday h // 24, Monday first). A shift ending at the period's end and one
    starting at its start are one shift over midnight again; a shift longer than a day is cut into days.
    Errors start with the key path `where`."""
    try:
        old = PeriodCalendar.model_validate(raw)
    except ValidationError as exc:
        raise ValueError("\n".join(f"{where}{''.join(f'[{p}]' if isinstance(p, int) else f'.{p}' for p in e['loc'])}"
                                   f": {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())) from None
    weekly = math.isclose(old.period_h, 168)
    if not (weekly or math.isclose(old.period_h, 24)):
        raise ValueError(f"{where}.period_h: a pattern repeating every {old.period_h:g} h cannot be written as "
                         "wall-clock shifts, which repeat daily or weekly: use period_h 24 or 168, or write the "
                         "calendar as timezone/shifts with days")
    period = 7 * DAY_MIN if weekly else DAY_MIN
    shifts = sorted([_minute(s.start, f"{where}.shifts[{i}].start"), _minute(s.end, f"{where}.shifts[{i}].end")]
                    for i, s in enumerate(old.shifts))
    stops = sorted((_minute(b.start, f"{where}.{kind}[{i}].start"), _minute(b.end, f"{where}.{kind}[{i}].end"), kind)
                   for kind in ("breaks", "maintenance") for i, b in enumerate(getattr(old, kind)))
    if len(shifts) > 1 and shifts[0][0] == 0 and shifts[-1][1] == period:  # over the period's end: one shift
        first = shifts.pop(0)
        shifts[-1][1] = period + first[1]
        stops = [(s + period, e + period, k) if e <= first[1] else (s, e, k) for s, e, k in stops]
    groups: dict[tuple[int, int, tuple[tuple[int, int, str], ...]], list[int]] = {}
    for start, end in shifts:
        for lo in range(start, end, DAY_MIN):  # a day at most each
            hi = min(lo + DAY_MIN, end)
            inside = tuple((max(s, lo) - lo, min(e, hi) - lo, k) for s, e, k in stops if s < hi and e > lo)
            days = groups.setdefault((lo % DAY_MIN, hi - lo, inside), [])
            days += [lo // DAY_MIN % 7] if weekly else range(7)
    names = [f"{_clock(start)}-{_clock(start + length)}" for start, length, _ in groups]
    out = []
    for ((start, length, inside), days), name in zip(groups.items(), names, strict=True):
        weekdays = [WEEKDAYS[d] for d in sorted(set(days))]
        out.append({"name": name if names.count(name) == 1 else f"{name} {'/'.join(weekdays)}",
                    "start": _clock(start), "end": _clock(start + length), "days": weekdays,
                    "breaks": [{"start": _clock(start + s), "end": _clock(start + e),
                                "name": "break" if k == "breaks" else "maintenance",
                                "kind": "break" if k == "breaks" else "maintenance"} for s, e, k in inside]})
    return ShiftCalendarConfig.model_validate({"timezone": timezone, "shifts": out})


def written(calendar: ShiftCalendarConfig) -> str:
    """The calendar as it is written in YAML (what to put in the file instead)."""
    data = calendar.model_dump(mode="json", exclude_defaults=True)
    for shift in data["shifts"]:
        for key in ("start", "end"):
            shift[key] = shift[key][:5]
        for b in shift.get("breaks", []):
            b["start"], b["end"] = b["start"][:5], b["end"][:5]
    return yaml.safe_dump({"calendar": data}, sort_keys=False, default_flow_style=None, width=110).rstrip()


def upgrade(raw: Any, where: str, timezone: Any, source: str | None = None) -> Any:
    """`raw` in the new form; an old-form calendar converted, with a warning naming the file and key and showing
    the new form. Anything else is left for validation to judge."""
    if not is_period_form(raw):
        return raw
    calendar = convert(raw, where, timezone if isinstance(timezone, str) else "UTC")
    warnings.warn(f"{source or '<config>'}: {where} is written in the old form (hours within a repeating "
                  "period_h), which is deprecated; it is read as this wall-clock calendar, write it so:\n"
                  + written(calendar), DeprecatedConfig, stacklevel=2)
    return calendar
