"""OEE of one asset over one window, kept up to date as events arrive, at constant cost per event.

It gives the same numbers as `oee_windows` over the same events (a property test checks this). An event
older than one already applied (out of order) is not an error: the window's events are replayed in time
order, which costs time in proportion to the window's events but only for that late event.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from analytics.oee.batch import OeeOptions, OeeWindow, Window
from analytics.oee.model import US, Counts, TimeModel
from analytics.oee.states import (
    BEGUN_BEFORE,
    FAILURE,
    GOOD,
    MINOR_STOP,
    OUTCOMES,
    PLANNED_STOP,
    PRODUCING,
    RESTARTS_FROM,
    REWORK,
    SCRAP,
    SETUP,
    UNKNOWN,
    WAITING,
    state_code,
)
from plantmodel.telemetry import Event, EventKind, to_micros

_NONE, _BUSY, _DOWN = 0, 1, 2  # plan classes: not planned, planned busy, planned down


def _plan(window: Window) -> tuple[list[int], list[int]]:
    """Cut points and the plan class from each cut point to the next, over the window."""
    cuts = sorted({window.start, window.end} | {t for s in window.planned + window.planned_down
                                                 for t in (s.start, s.end)})
    cuts = [c for c in cuts if window.start <= c <= window.end]
    classes = []
    for a in cuts[:-1]:
        if any(d.start <= a < d.end for d in window.planned_down):
            classes.append(_DOWN)
        elif any(p.start <= a < p.end for p in window.planned):
            classes.append(_BUSY)
        else:
            classes.append(_NONE)
    return cuts, classes


@dataclass(slots=True)
class _Acc:
    """Accumulated µs per state code in planned busy time, and the rest of the tallies."""

    by_code: list[int] = field(default_factory=lambda: [0] * 7)
    cal_down: int = 0
    pot: int = 0
    calendar: int = 0
    stops: list[int] = field(default_factory=lambda: [0, 0])
    parts: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0, 0])  # good scrap rework startup outside first
    pending_down: int = 0  # planned-busy time of the down span in progress, not yet failure or minor

    def copy(self) -> _Acc:
        return _Acc(self.by_code[:], self.cal_down, self.pot, self.calendar, self.stops[:], self.parts[:],
                    self.pending_down)


class LiveOee:
    def __init__(self, window: Window, opts: OeeOptions) -> None:
        self.window, self.opts = window, opts
        self._cuts, self._classes = _plan(window)
        self._minor_us = int(opts.minor_stop_s * US)
        self._startup_us = int(opts.startup_s * US)
        self._log: list[tuple[int, int, int, Event]] = []  # (ts, kind order, arrival, event)
        self._seq = 0
        self._reset()

    def _reset(self) -> None:
        self._acc = _Acc()
        self._code = UNKNOWN
        self._since = self.window.start  # start of the current state span (or the window start)
        self._t = self.window.start  # time accounted up to
        self._seg = 0
        self._run_restart: int | None = None
        self._down_counted = False
        self._last = -(2**62)
        self._last_part = -(2**62)
        self._last_scrap = -(2**62)
        self._before = UNKNOWN  # the state just before the window began

    # -- input ---------------------------------------------------------------------------------------
    def add(self, event: Event) -> None:
        if event.kind not in (EventKind.STATE_CHANGE, EventKind.PART):
            return
        ts = to_micros(event.ts)
        is_state = event.kind is EventKind.STATE_CHANGE
        key = (ts, 0 if is_state else 1, self._seq, event)
        self._seq += 1
        late = ts < self._last or (is_state and ts == self._last_part and self._reorders(ts))
        if late:
            bisect.insort(self._log, key, key=lambda k: k[:3])
            self._replay()
        elif is_state and ts == self._last_part:  # after a part of its own instant, in the log's order
            bisect.insort(self._log, key, key=lambda k: k[:3])
            self._apply(ts, event)
        else:
            self._log.append(key)
            self._apply(ts, event)

    def _reorders(self, ts: int) -> bool:
        """Whether a state change arriving after a part of its own instant must be replayed before it: only when
        that instant's scrap may be start-up scrap (a state change starts or ends the start-up period)."""
        return self._startup_us > 0 and self._last_scrap == ts

    def _replay(self) -> None:
        self._reset()
        for ts, _, _, e in self._log:
            self._apply(ts, e)

    def _apply(self, ts: int, event: Event) -> None:
        self._last = max(self._last, ts)
        if event.kind is EventKind.STATE_CHANGE:
            self._advance(self._acc, ts)
            self._change(ts, state_code(event.data.get("to")))
        else:
            self._last_part = ts
            self._part(ts, event)

    # -- state ---------------------------------------------------------------------------------------
    def _change(self, ts: int, code: int) -> None:
        if code == self._code:
            return  # a repeated state is not a change: a stop reported twice is still one stop
        if self._code == FAILURE:  # a down span ends: now its length says failure or minor stop
            minor = ts - self._since < self._minor_us
            a = self._acc
            a.by_code[MINOR_STOP if minor else FAILURE] += a.pending_down
            a.pending_down = 0
            if self._down_counted:
                a.stops[1 if minor else 0] += 1
        self._run_restart = ts if code == PRODUCING and self._code in RESTARTS_FROM else None
        self._code, self._since = code, ts
        if ts < self.window.start:
            self._before = code
        self._down_counted = code == FAILURE and self._class_at(ts) == _BUSY

    def _class_at(self, ts: int) -> int | None:
        if not self.window.start <= ts < self.window.end:
            return None
        i = bisect.bisect_right(self._cuts, ts) - 1
        return self._classes[i]

    def _advance(self, acc: _Acc, to: int, seg: int | None = None) -> int:
        """Account the current state's time from the last instant accounted up to `to`."""
        t = max(self._t, self.window.start)
        to = min(to, self.window.end)
        i = self._seg if seg is None else seg
        code = self._code
        while t < to:
            while self._cuts[i + 1] <= t:
                i += 1
            end = min(to, self._cuts[i + 1])
            d, cls = end - t, self._classes[i]
            acc.calendar += d
            if cls != _NONE:
                acc.pot += d
                if cls == _DOWN:
                    acc.cal_down += d
                elif code == FAILURE:
                    acc.pending_down += d
                else:
                    acc.by_code[code] += d
            t = end
        if seg is None:
            self._t, self._seg = max(self._t, to), i
        return i

    def _part(self, ts: int, event: Event) -> None:
        if not self.window.start <= ts < self.window.end:
            return
        outcome = OUTCOMES.get(str(event.data.get("outcome")))
        count = event.data.get("count", 1)
        if outcome is None or not isinstance(count, int) or count <= 0:
            return
        p = self._acc.parts
        if not (p[GOOD] or p[SCRAP] or p[REWORK]) and self._before in BEGUN_BEFORE:
            p[5] = 1
        p[outcome] += count
        if outcome == SCRAP:
            self._last_scrap = ts
        if outcome == SCRAP and self._run_restart is not None and ts - self._run_restart <= self._startup_us \
                and self._startup_us > 0:
            p[3] += count
        if not any(s.start <= ts < s.end for s in self.window.planned):
            p[4] += count

    @property
    def last_state_change(self) -> Event | None:
        """The latest state change applied: the state a following window starts in."""
        return next((k[3] for k in reversed(self._log) if k[3].kind is EventKind.STATE_CHANGE), None)

    # -- output --------------------------------------------------------------------------------------
    def result(self, until: int | None = None) -> OeeWindow:
        """The window up to `until` (default: its end), which should be later than every event added."""
        until = self.window.end if until is None else until
        window = self.window.clipped(until)
        acc = self._acc.copy()
        if until > self._t:
            self._advance(acc, until, self._seg)
        if self._code == FAILURE:  # the stop in progress is classified by its length so far
            minor = max(until, self._since) - self._since < self._minor_us
            acc.by_code[MINOR_STOP if minor else FAILURE] += acc.pending_down
            if self._down_counted and self._since < until:
                acc.stops[1 if minor else 0] += 1
        c = acc.by_code
        tm = TimeModel(calendar=acc.calendar, pot=acc.pot, pdot=acc.cal_down + c[PLANNED_STOP], apt=c[PRODUCING],
                       aust=c[SETUP], failure=c[FAILURE], minor_stop=c[MINOR_STOP], waiting=c[WAITING],
                       unknown=c[UNKNOWN], failures=acc.stops[0], minor_stops=acc.stops[1])
        p = acc.parts
        flags = ("parts_outside_planned_time",) if p[4] else ()
        return OeeWindow.build(window, tm, Counts.of(p[GOOD], p[SCRAP], p[REWORK], p[3], p[5]), self.opts, flags)
