"""The shift calendar at run time: opens and closes the line, and tells every station why it is stopped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from plantmodel.simulation import ShiftCalendar

Listener = Callable[[bool], None]


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

    def __init__(self, env: simpy.Environment, spec: ShiftCalendar | None, offset_s: float = 0.0) -> None:
        """`offset_s`: where in the pattern's period the run starts (a run started from the live line at 09:40
        of a daily pattern: 34 800 s); 0, the period's start."""
        self.env = env
        self.open = True
        self.reason = ""
        self.reopened: simpy.Event = env.event()
        self.listeners: list[Listener] = []
        if spec is not None:
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
