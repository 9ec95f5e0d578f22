"""Shift calendars: when a unit is planned to operate, from YAML (the ISO 22400 planned operation time).

Times are wall-clock times in the calendar's time zone, so a shift keeps its local hours across a
daylight-saving change (and is an hour shorter or longer that night). A shift that ends at or before its
start runs past midnight and belongs to the day it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plantmodel.telemetry import from_micros, to_micros

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = list(WEEKDAYS)


#: simulated time 0 when a run names no origin: a Monday, 00:00 local in the calendar's zone
REFERENCE_MONDAY = datetime(2024, 1, 1)


def run_origin(origin: datetime | None, tz: tzinfo) -> datetime:
    """The instant a run begins: `origin` as given; without an offset, read in `tz`; none, REFERENCE_MONDAY."""
    start = origin or REFERENCE_MONDAY
    return start if start.tzinfo is not None else start.replace(tzinfo=tz)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


class Break(_Strict):
    """Planned down time inside a shift (a break, a meal, a daily clean-down), every time the shift runs;
    `kind` is the reason a simulated line gives for it (a recurring maintenance slot: `maintenance`)."""

    start: time
    end: time
    name: str = "break"
    kind: Literal["break", "maintenance"] = "break"


class Shift(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    start: time
    end: time
    days: list[Weekday] = Field(default_factory=lambda: list(ALL_DAYS), min_length=1)
    breaks: list[Break] = Field(default_factory=list)

    @property
    def length_min(self) -> int:
        """Nominal length in minutes (ignoring a daylight-saving change)."""
        return (_minutes(self.end) - _minutes(self.start)) % 1440 or 1440

    def offset_min(self, t: time) -> int:
        """Minutes from the shift's start to `t`, which may lie past midnight."""
        return (_minutes(t) - _minutes(self.start)) % 1440

    @model_validator(mode="after")
    def _breaks_inside(self) -> Self:
        spans = []
        for i, b in enumerate(self.breaks):
            lo, hi = self.offset_min(b.start), self.offset_min(b.end)
            if hi == 0 and _minutes(b.end) == _minutes(self.end):
                hi = self.length_min
            if not (0 <= lo < hi <= self.length_min):
                raise ValueError(f"breaks[{i}] ({b.start:%H:%M}-{b.end:%H:%M}) is not inside the shift "
                                 f"{self.start:%H:%M}-{self.end:%H:%M}")
            spans.append((lo, hi, i))
        spans.sort()
        for (_, hi, i), (lo, _, j) in pairwise(spans):
            if lo < hi:
                raise ValueError(f"breaks[{i}] and breaks[{j}] overlap")
        return self


class PlannedDowntime(_Strict):
    """A one-off planned stop (preventive maintenance, an inventory), local times."""

    start: datetime
    end: datetime
    name: str = "planned maintenance"

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ShiftCalendarConfig(_Strict):
    timezone: str = "UTC"
    shifts: list[Shift] = Field(min_length=1)
    holidays: list[date] = Field(default_factory=list, description="no shift starts on these dates")
    planned_downtime: list[PlannedDowntime] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (expected an IANA name such as Europe/Berlin)") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _no_overlaps(self) -> Self:
        names = [s.name for s in self.shifts]
        for n in names:
            if names.count(n) > 1:
                raise ValueError(f"shift name {n!r} is used twice")
        # minute-of-week occupancy; a shift running past midnight spills into the next day
        occupied: dict[int, str] = {}
        for i, s in enumerate(self.shifts):
            for day in s.days:
                first = WEEKDAYS.index(day) * 1440 + _minutes(s.start)
                for m in range(first, first + s.length_min):
                    other = occupied.setdefault(m % (7 * 1440), f"shifts[{i}] ({s.name})")
                    if other != f"shifts[{i}] ({s.name})":
                        raise ValueError(f"shifts[{i}] ({s.name}) overlaps {other} on {day}")
        return self


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    name: str = ""
    kind: str = "break"  # or "maintenance" (a maintenance slot, a one-off planned downtime): a simulated line's reason


@dataclass(frozen=True, slots=True)
class PlannedPeriod:
    """One occurrence of a shift: planned operation time, with its planned down time inside."""

    shift: str
    day: date
    start: int
    end: int
    planned_down: tuple[Span, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}/{self.shift}"


def _at(day: date, t: time, tz: tzinfo) -> int:
    # zoneinfo resolves a wall time skipped by a spring-forward change to the instant an hour later,
    # and an ambiguous one (autumn) to its first occurrence: the shift starts when the clock first shows it
    return to_micros(datetime.combine(day, t, tzinfo=tz))


class ShiftPlan:
    """A calendar's shift occurrences over any span of time, in its time zone (the twin's planned operation
    time; `planned_stops` is the same for the simulator)."""

    def __init__(self, config: ShiftCalendarConfig, tz: tzinfo) -> None:
        self.config, self.tz = config, tz
        self._holidays = frozenset(config.holidays)
        self._downtime = sorted((Span(to_micros(d.start.replace(tzinfo=d.start.tzinfo or tz)),
                                      to_micros(d.end.replace(tzinfo=d.end.tzinfo or tz)), d.name, "maintenance")
                                 for d in config.planned_downtime), key=lambda s: (s.start, s.end))

    def periods(self, start: int, end: int) -> list[PlannedPeriod]:
        """Shift occurrences overlapping [start, end), clipped to it, in time order."""
        first = from_micros(start).astimezone(self.tz).date() - timedelta(days=1)
        last = from_micros(end).astimezone(self.tz).date()
        out: list[PlannedPeriod] = []
        day = first
        while day <= last:
            if day not in self._holidays:
                for shift in self.config.shifts:
                    if WEEKDAYS[day.weekday()] not in shift.days:
                        continue
                    p = self._occurrence(shift.name, day, shift.start, shift.end, shift.breaks)
                    s, e = max(p.start, start), min(p.end, end)
                    if s < e:
                        down = [Span(max(b.start, s), min(b.end, e), b.name, b.kind) for b in p.planned_down]
                        out.append(PlannedPeriod(p.shift, day, s, e, tuple(b for b in down if b.start < b.end)))
            day += timedelta(days=1)
        out.sort(key=lambda p: p.start)
        return out

    def _occurrence(self, name: str, day: date, start: time, end: time, breaks: list) -> PlannedPeriod:
        s = _at(day, start, self.tz)
        e = _at(day + timedelta(days=1) if end <= start else day, end, self.tz)
        down: list[Span] = []
        for b in breaks:
            bday = day + timedelta(days=1) if b.start < start else day
            eday = day + timedelta(days=1) if b.end <= start else day
            down.append(Span(_at(bday, b.start, self.tz), _at(eday, b.end, self.tz), b.name, b.kind))
        for d in self._downtime:
            if d.start < e and d.end > s:
                down.append(Span(max(d.start, s), min(d.end, e), d.name, "maintenance"))
        return PlannedPeriod(name, day, s, e, tuple(_merge(down)))


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping planned stops (a break inside a maintenance slot) are counted once."""
    out: list[Span] = []
    for sp in sorted(spans, key=lambda x: x.start):
        if out and sp.start <= out[-1].end:
            last = out[-1]
            out[-1] = Span(last.start, max(last.end, sp.end), last.name, last.kind)
        else:
            out.append(sp)
    return out


def always(start: int, end: int) -> list[PlannedPeriod]:
    """No calendar: the whole window is planned (24/7 operation)."""
    return [PlannedPeriod("all", from_micros(start).date(), start, end)]


def planned_stops(plan: ShiftPlan, start: int, end: int) -> list[tuple[int, int, str]]:
    """The planned stops over [start, end) in µs, in time order: off shift (between shift occurrences, holidays),
    breaks and one-off planned downtime; everything else is planned operation time, exactly the periods' own.
    The simulator's calendar closes the line on these (simulators.flow.shifts)."""
    out: list[tuple[int, int, str]] = []
    t = start
    for p in plan.periods(start, end):
        if p.start > t:
            out.append((t, p.start, "off_shift"))
        out += [(b.start, b.end, b.kind) for b in p.planned_down]
        t = max(t, p.end)
    if t < end:
        out.append((t, end, "off_shift"))
    return out
