"""Planned operation time from a shift calendar, as UTC intervals in µs (computed by `plantmodel.shifts`, the
one place the simulator's planned stops come from too).

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

from plantmodel.shifts import PlannedPeriod, Span, always
from plantmodel.shifts import ShiftPlan as ShiftCalendar
from plantmodel.telemetry import to_micros

__all__ = ["PlannedPeriod", "ShiftCalendar", "Span", "always", "to_us"]

to_us = to_micros

