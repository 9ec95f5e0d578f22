"""Shift calendars: when a unit is planned to operate, from YAML (the ISO 22400 planned operation time).

Times are wall-clock times in the calendar's time zone, so a shift keeps its local hours across a
daylight-saving change (and is an hour shorter or longer that night). A shift that ends at or before its
start runs past midnight and belongs to the day it starts.
"""

from __future__ import annotations

from datetime import date, datetime, time
from itertools import pairwise
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = list(WEEKDAYS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


class Break(_Strict):
    """Planned down time inside a shift (a break, a meal, a daily clean-down)."""

    start: time
    end: time
    name: str = "break"


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
