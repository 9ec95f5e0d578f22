"""The shift calendar at run time: opens and closes the line, and tells every station why it is stopped.

A wall-clock calendar (`plantmodel.shifts.ShiftCalendarConfig`, the one a plant writes and the twin's OEE reads)
is placed on simulated time by the run's origin, the plant instant of simulated time 0; its planned stops come
from `plantmodel.shifts.planned_stops`, the function behind the twin's planned operation time, so a simulated line
is planned exactly when the twin says it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import simpy

from plantmodel.shifts import ShiftCalendarConfig, ShiftPlan, planned_stops, run_origin
from plantmodel.telemetry import to_micros

Listener = Callable[[bool], None]
LOOKAHEAD_S = 8 * 86_400.0  # planned stops are placed this far ahead at a time (a week and a day)


class Calendar:
    """Open around the clock unless a shift pattern says otherwise; stations wait on `reopened`."""

    def __init__(self, env: simpy.Environment, spec: ShiftCalendarConfig | None,
                 origin: datetime | None = None) -> None:
        """`origin`: the plant instant of simulated time 0 (without an offset, read in the calendar's zone;
        default: a Monday at 00:00 there, `plantmodel.shifts.REFERENCE_MONDAY`)."""
        self.env = env
        self.open = True
        self.reason = ""
        self.reopened: simpy.Event = env.event()
        self.listeners: list[Listener] = []
        self.origin_us = 0
        if spec is not None:
            self.plan, self.origin_us = ShiftPlan(spec, spec.tz), to_micros(run_origin(origin, spec.tz))
            env.process(self._run())

    def place(self, origin_us: int) -> None:
        """Put simulated time 0 at plant instant `origin_us` (before the run starts): a live line's shifts then
        fall where the plant clock, and the twin's calendar, say they are."""
        if self.env.now:
            raise RuntimeError("a calendar is placed on plant time before its run starts")
        self.origin_us = origin_us

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

    def _run(self) -> Any:
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
