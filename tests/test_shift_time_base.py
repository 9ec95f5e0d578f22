"""One shift calendar, one planned time: the simulator closes the line exactly when the twin's OEE says the line is
not planned (plantmodel.shifts computes both)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import simpy

from analytics.oee import ShiftCalendar
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.telemetry import to_micros
from simulators.flow.shifts import Calendar

ZONE = "Europe/Berlin"
CALENDAR = ShiftCalendarConfig.model_validate({
    "timezone": ZONE,
    "shifts": [{"name": "early", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}]},
               {"name": "late", "start": "14:00", "end": "22:00", "breaks": [{"start": "18:00", "end": "18:20"}]}],
    "planned_downtime": [{"start": "2026-03-10T12:00:00", "end": "2026-03-10T13:00:00", "name": "inspection"}]})


def simulated(origin: datetime, hours: float) -> tuple[float, list[tuple[float, bool, str]]]:
    """Seconds the simulated line is open over `hours` from `origin`, and every change of the calendar."""
    env = simpy.Environment()
    cal = Calendar(env, CALENDAR, origin=origin)
    changes: list[tuple[float, bool, str]] = []
    cal.listeners.append(lambda is_open: changes.append((env.now, is_open, cal.reason)))
    open_s, last = 0.0, 0.0
    was_open = True

    def watch(is_open: bool) -> None:
        nonlocal open_s, last, was_open
        if was_open:
            open_s += env.now - last
        last, was_open = env.now, is_open

    cal.listeners.append(watch)
    env.run(until=hours * 3600)
    if was_open:
        open_s += env.now - last
    return open_s, changes


def twin_planned_s(origin: datetime, hours: float) -> float:
    """Planned operation time as the twin's OEE computes it: shift occurrences less their planned stops."""
    start = to_micros(origin)
    end = start + round(hours * 3600e6)
    periods = ShiftCalendar(CALENDAR, CALENDAR.tz).periods(start, end)
    return sum(p.end - p.start - sum(b.end - b.start for b in p.planned_down) for p in periods) / 1e6


def test_the_simulator_plans_the_time_the_twin_plans_over_a_day_with_shifts_breaks_and_a_stop() -> None:
    origin = datetime(2026, 3, 10, 5, 0, tzinfo=ZoneInfo(ZONE))  # a Tuesday, an hour before the first shift
    open_s, changes = simulated(origin, 24)
    assert open_s == twin_planned_s(origin, 24) == (16 * 3600 - 30 * 60 - 20 * 60 - 3600)
    hours = [(round(t / 3600, 3), is_open, reason) for t, is_open, reason in changes]
    assert hours == [(0.0, False, "off_shift"), (1.0, True, ""), (5.0, False, "break"), (5.5, True, ""),
                     (7.0, False, "maintenance"), (8.0, True, ""), (13.0, False, "break"), (13.333, True, ""),
                     (17.0, False, "off_shift")]


def test_a_run_started_mid_shift_and_across_a_daylight_saving_change_agrees_too() -> None:
    origin = datetime(2026, 3, 28, 9, 40, tzinfo=ZoneInfo(ZONE))  # the clocks go forward in the night after
    for hours in (1, 30, 72):
        assert simulated(origin, hours)[0] == twin_planned_s(origin, hours)
