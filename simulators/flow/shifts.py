"""The shift calendar at run time: opens and closes the line, and tells every station why it is stopped.

A wall-clock calendar (`plantmodel.shifts.ShiftCalendarConfig`, the one a plant writes and the twin's OEE reads)
is placed on simulated time by the run's origin, the plant instant of simulated time 0; its planned stops come
from `plantmodel.shifts.planned_stops`, the function behind the twin's planned operation time, so a simulated line
is planned exactly when the twin says it is. The older repeating pattern (`plantmodel.simulation.ShiftCalendar`,
hours within a period) is still run as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import simpy

from plantmodel.shifts import ShiftCalendarConfig, ShiftPlan, planned_stops
from plantmodel.simulation import ShiftCalendar
from plantmodel.telemetry import to_micros

Listener = Callable[[bool], None]
#: simulated time 0 of a wall-clock calendar when the run names no origin: a Monday, 00:00 local (plus offset_s)
REFERENCE_MONDAY = datetime(2024, 1, 1)
LOOKAHEAD_S = 8 * 86_400.0  # planned stops are placed this far ahead at a time (a week and a day)


def closed_intervals(spec: ShiftCalendar) -> list[tuple[float, float, str]]:
    """Planned-stop intervals of one period in seconds: off shift, breaks and maintenance, sorted."""
    hour = 3600.0
    out: list[tuple[float, float, str]] = []
    t = 0.0
    for shift in sorted(spec.shifts, key=lambda s: s.start):
        if shift.start > t:
            out.append((t * hour, shift.start * hour, "off_shift"))
        t = shift.end
    if t < spec.period_h:
        out.append((t * hour, spec.period_h * hour, "off_shift"))
    out += [(b.start * hour, b.end * hour, "break") for b in spec.breaks]
    out += [(m.start * hour, m.end * hour, "maintenance") for m in spec.maintenance]
    return sorted(out)


class Calendar:
    """Open around the clock unless a shift pattern says otherwise; stations wait on `reopened`."""

    def __init__(self, env: simpy.Environment, spec: ShiftCalendar | ShiftCalendarConfig | None,
                 offset_s: float = 0.0, origin: datetime | None = None) -> None:
        """`offset_s`: where in the pattern's period the run starts (a run started from the live line at 09:40
        of a daily pattern: 34 800 s); 0, the period's start. For a wall-clock calendar, `origin` is the plant
        instant of simulated time 0 (default: a Monday at 00:00 in the calendar's zone, plus `offset_s`)."""
        self.env = env
        self.open = True
        self.reason = ""
        self.reopened: simpy.Event = env.event()
        self.listeners: list[Listener] = []
        if isinstance(spec, ShiftCalendarConfig):
            start = origin or REFERENCE_MONDAY.replace(tzinfo=spec.tz) + timedelta(seconds=offset_s)
            if start.tzinfo is None:
                start = start.replace(tzinfo=spec.tz)
            self.plan, self.origin_us = ShiftPlan(spec, spec.tz), to_micros(start)
            env.process(self._run_wall_clock())
        elif spec is not None:
            self.period = spec.period_h * 3600.0
            self.intervals = closed_intervals(spec)
            self.offset = offset_s % self.period
            env.process(self._run())

    def _set(self, is_open: bool, reason: str) -> None:
        changed = is_open != self.open or reason != self.reason
        self.open, self.reason = is_open, reason
        if changed:
            for listener in self.listeners:
                listener(is_open)
        if is_open:
            self.reopened.succeed()
            self.reopened = self.env.event()

    def stops(self, start_s: float, end_s: float) -> list[tuple[float, float, str]]:
        """A wall-clock calendar's planned stops over [start_s, end_s) of simulated time."""
        o = self.origin_us
        return [((s - o) / 1e6, (e - o) / 1e6, reason)
                for s, e, reason in planned_stops(self.plan, o + round(start_s * 1e6), o + round(end_s * 1e6))]

    def _run_wall_clock(self) -> Any:
        while True:
            now = self.env.now
            horizon = now + LOOKAHEAD_S
            for start, end, reason in self.stops(now, horizon):
                if start > self.env.now + 1e-6:  # a gap (not a stop that follows on at once): open until then
                    if not self.open:
                        self._set(True, "")
                    yield self.env.timeout(start - self.env.now)
                self._set(False, reason)
                yield self.env.timeout(max(0.0, end - self.env.now))
            if self.env.now < horizon:  # open until the look-ahead's end; a stop running on continues there
                if not self.open:
                    self._set(True, "")
                yield self.env.timeout(horizon - self.env.now)

    def _run(self) -> Any:
        if not self.intervals:  # one shift around the clock: never closed
            return
        base = -self.offset  # the period's start, in the run's time
        while True:
            for i, (start, end, reason) in enumerate(self.intervals):
                if base + end <= self.env.now:
                    continue  # over before the run began
                if base + start > self.env.now:
                    yield self.env.timeout(base + start - self.env.now)
                self._set(False, reason)
                yield self.env.timeout(base + end - self.env.now)
                following = self.intervals[(i + 1) % len(self.intervals)]
                next_start = following[0] + (self.period if i + 1 == len(self.intervals) else 0.0)
                if next_start > end:
                    self._set(True, "")
            base += self.period
