"""Planned operation time from a shift calendar, as UTC intervals in µs.

>>> from datetime import datetime, UTC
>>> from plantmodel.shifts import ShiftCalendarConfig
>>> cfg = ShiftCalendarConfig(shifts=[{"name": "day", "start": "06:00", "end": "14:00",
...                                    "breaks": [{"start": "10:00", "end": "10:30"}]}])
>>> day = ShiftCalendar(cfg, UTC).periods(to_us(datetime(2026, 1, 5, tzinfo=UTC)),
...                                       to_us(datetime(2026, 1, 6, tzinfo=UTC)))[0]
>>> day.shift, (day.end - day.start) / 3.6e9, [(b.end - b.start) / 6e7 for b in day.planned_down]
('day', 8.0, [30.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from plantmodel.shifts import WEEKDAYS, ShiftCalendarConfig
from plantmodel.telemetry import from_micros, to_micros

to_us = to_micros


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    name: str = ""


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


class ShiftCalendar:
    def __init__(self, config: ShiftCalendarConfig, tz: tzinfo) -> None:
        self.config, self.tz = config, tz
        self._holidays = frozenset(config.holidays)
        self._downtime = sorted((Span(to_micros(d.start.replace(tzinfo=d.start.tzinfo or tz)),
                                      to_micros(d.end.replace(tzinfo=d.end.tzinfo or tz)), d.name)
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
                        down = [Span(max(b.start, s), min(b.end, e), b.name) for b in p.planned_down]
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
            down.append(Span(_at(bday, b.start, self.tz), _at(eday, b.end, self.tz), b.name))
        for d in self._downtime:
            if d.start < e and d.end > s:
                down.append(Span(max(d.start, s), min(d.end, e), d.name))
        return PlannedPeriod(name, day, s, e, tuple(_merge(down)))


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping planned stops (a break inside a maintenance slot) are counted once."""
    out: list[Span] = []
    for sp in sorted(spans, key=lambda x: x.start):
        if out and sp.start <= out[-1].end:
            last = out[-1]
            out[-1] = Span(last.start, max(last.end, sp.end), last.name)
        else:
            out.append(sp)
    return out


def always(start: int, end: int) -> list[PlannedPeriod]:
    """No calendar: the whole window is planned (24/7 operation)."""
    return [PlannedPeriod("all", from_micros(start).date(), start, end)]
