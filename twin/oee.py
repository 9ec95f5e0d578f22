"""Live OEE per asset and line for the current shift and day, with the loss breakdown and shift history.

Events are applied as they arrive (constant cost each, through `analytics.oee.live`); a window's numbers
equal the batch computation over the same events. A window's last state is carried into the next one, so
a stop that spans a shift change is split between the shifts and counted once, where it began.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from analytics.oee import OeeOptions, OeeWindow, ShiftCalendar, Span, Window
from analytics.oee.line import LineOee, line_oee
from analytics.oee.live import LiveOee
from plantmodel.catalog import AssetRole
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import Event, EventKind, from_micros, to_micros

DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class OeeSettings:
    minor_stop_s: float = 120.0
    startup_s: float = 0.0
    clamp: bool = False
    history_windows: int = 21  # a week of three shifts


class WindowSeries:
    """Consecutive windows covering all time: shifts (and the gaps between them) or calendar days."""

    def __init__(self, kind: str, calendar: ShiftCalendar | None, tz: tzinfo) -> None:
        self.kind, self.calendar, self.tz = kind, calendar, tz

    def _day(self, ts: int) -> tuple[int, int, str]:
        d = from_micros(ts).astimezone(self.tz).date()
        start = to_micros(datetime.combine(d, time(0), tzinfo=self.tz))
        end = to_micros(datetime.combine(d + timedelta(days=1), time(0), tzinfo=self.tz))
        return start, end, d.isoformat()

    def window_at(self, ts: int) -> Window:
        if self.kind == "day" or self.calendar is None:
            start, end, key = self._day(ts)
            if self.calendar is None:
                return Window(key, start, end, (Span(start, end, "all"),))
            return Window.over(key, start, end, self.calendar.periods(start, end))
        periods = self.calendar.periods(ts - 3 * DAY_US, ts + 3 * DAY_US)
        before = [p for p in periods if p.start <= ts]
        if before and ts < before[-1].end:
            return Window.of_period(before[-1])
        start = before[-1].end if before else ts - 3 * DAY_US
        after = [p for p in periods if p.start > ts]
        end = after[0].start if after else ts + 3 * DAY_US
        return Window(f"{from_micros(start).astimezone(self.tz):%Y-%m-%dT%H:%M}/no-shift", start, end)


@dataclass(slots=True)
class _AssetWindows:
    current: LiveOee | None = None
    history: deque[LiveOee] = field(default_factory=deque)


class OeeMonitor:
    def __init__(self, plant: PlantConfig, calendar: ShiftCalendar | None, tz: tzinfo,
                 settings: OeeSettings = OeeSettings()) -> None:
        self.settings = settings
        self.assets: dict[str, Asset] = {a.path: a for a in plant.assets() if a.role is AssetRole.STATION}
        self.lines = {line.path: [a.path for a in line.assets() if a.role is AssetRole.STATION and a.path in
                                  self.assets] for line in plant.lines()}
        self._flow = {line.path: [line.asset(i).path for i in line.config.flow] for line in plant.lines()}
        self.series = {k: WindowSeries(k, calendar, tz) for k in ("shift", "day")}
        self._windows: dict[tuple[str, str], _AssetWindows] = {}
        self._last_state: dict[str, Event] = {}
        self.latest_us = 0
        self.late_events = 0

    def options(self, asset: str) -> OeeOptions:
        s = self.settings
        return OeeOptions(self.assets[asset].config.ideal_cycle_time_s, s.minor_stop_s, s.startup_s, s.clamp)

    def observe(self, event: Event) -> None:
        if event.asset not in self.assets or event.kind not in (EventKind.STATE_CHANGE, EventKind.PART):
            return
        ts = to_micros(event.ts)
        self.latest_us = max(self.latest_us, ts)
        for kind in self.series:
            w = self._roll(event.asset, kind, ts)
            assert w.current is not None  # rolled onto the window of `ts`
            if ts < w.current.window.start and kind == "shift":
                self.late_events += 1  # its own window is history now: it only closes or opens states there
            w.current.add(event)
            if w.history:
                w.history[-1].add(event)  # closes a stop that spans the boundary; parts after its end are ignored
        if event.kind is EventKind.STATE_CHANGE:
            self._last_state[event.asset] = event

    def _roll(self, asset: str, kind: str, ts: int) -> _AssetWindows:
        w = self._windows.setdefault((asset, kind), _AssetWindows())
        while w.current is None or ts >= w.current.window.end:
            start_at = ts if w.current is None else w.current.window.end
            live = LiveOee(self.series[kind].window_at(start_at), self.options(asset))
            if (last := self._last_state.get(asset)) is not None:
                live.add(last)
            if w.current is not None:
                w.history.append(w.current)
                while len(w.history) > self.settings.history_windows:
                    w.history.popleft()
            w.current = live
        return w

    def current(self, asset: str, kind: str, now: int) -> OeeWindow | None:
        w = self._windows.get((asset, kind))
        if w is None or w.current is None:
            return None
        if now >= w.current.window.end:
            self._roll(asset, kind, now)
        return w.current.result(min(now, w.current.window.end))

    def at(self, asset: str, kind: str, at_us: int) -> OeeWindow | None:
        """The window (current or kept) that holds instant `at_us`, up to that instant: the figures as they
        stood then, for a window whose events all came before it."""
        w = self._windows.get((asset, kind))
        if w is None:
            return None
        for live in (*w.history, *([w.current] if w.current else [])):
            if live.window.start <= at_us < live.window.end:
                return live.result(at_us)
        return None

    def history(self, asset: str, kind: str = "shift") -> list[OeeWindow]:
        w = self._windows.get((asset, kind))
        return [h.result() for h in w.history] if w else []

    def line(self, line: str, kind: str, now: int) -> LineOee:
        results = {p: r for p in self.lines[line] if (r := self.current(p, kind, now)) is not None}
        last = self.lines[line][-1] if self.lines[line] else ""
        return line_oee(results, {p: self.assets[p].config.ideal_cycle_time_s for p in self.lines[line]}, last)


def window_dict(w: OeeWindow | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {"window": w.key, "start": from_micros(w.start), "end": from_micros(w.end), "kpis": w.kpis.as_dict(),
            "time_model_s": w.time.seconds(), "counts": {"produced": w.counts.produced, "good": w.counts.good,
                                                         "scrap": w.counts.scrap, "rework": w.counts.rework},
            "losses_s": w.losses.as_dict() if w.losses else None, "flags": list(w.flags)}
