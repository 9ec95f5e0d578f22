"""OEE over a history of events, for many windows at once (vectorised: a month of a line in well under 1 s).

The state is a step function of time: each state-change event holds until the next one, and the last one
holds to the end of the data (``until``). Each window is cut into elementary segments where neither the
state nor the plan changes, and each segment's length goes to one element of the time model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analytics.oee.calendar import PlannedPeriod, Span
from analytics.oee.model import US, Counts, Kpis, SixLosses, TimeModel, compute_kpis, six_losses
from analytics.oee.states import (
    BEGUN_BEFORE,
    FAILURE,
    GOOD,
    MINOR_STOP,
    PLANNED_STOP,
    PRODUCING,
    RESTARTS_FROM,
    REWORK,
    SCRAP,
    SETUP,
    UNKNOWN,
    WAITING,
    EventLog,
)


@dataclass(frozen=True, slots=True)
class Window:
    """A time range, with the planned operation time and planned down time inside it."""

    key: str
    start: int
    end: int
    planned: tuple[Span, ...] = ()
    planned_down: tuple[Span, ...] = ()

    def clipped(self, until: int) -> Window:
        if until >= self.end:
            return self
        def clip(spans: tuple[Span, ...]) -> tuple[Span, ...]:
            return tuple(Span(sp.start, min(sp.end, until), sp.name) for sp in spans if sp.start < until)
        return Window(self.key, self.start, until, clip(self.planned), clip(self.planned_down))

    @classmethod
    def of_period(cls, p: PlannedPeriod) -> Window:
        return cls(p.key, p.start, p.end, (Span(p.start, p.end, p.shift),), p.planned_down)

    @classmethod
    def over(cls, key: str, start: int, end: int, periods: Sequence[PlannedPeriod]) -> Window:
        """A window (a day, a week, any range) planned as the shifts that fall into it."""
        inside = [p for p in periods if p.end > start and p.start < end]
        planned = tuple(Span(max(p.start, start), min(p.end, end), p.shift) for p in inside)
        down = tuple(Span(max(d.start, start), min(d.end, end), d.name) for p in inside for d in p.planned_down
                     if d.end > start and d.start < end)
        return cls(key, start, end, planned, down)


@dataclass(frozen=True, slots=True)
class OeeOptions:
    ideal_cycle_s: float | None = None
    minor_stop_s: float = 120.0
    startup_s: float = 0.0
    clamp: bool = False


@dataclass(frozen=True, slots=True)
class OeeWindow:
    key: str
    start: int
    end: int
    time: TimeModel
    counts: Counts
    kpis: Kpis
    losses: SixLosses | None
    flags: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def build(cls, w: Window, tm: TimeModel, counts: Counts, opts: OeeOptions,
              extra_flags: tuple[str, ...] = ()) -> OeeWindow:
        k = compute_kpis(tm, counts, opts.ideal_cycle_s, clamp=opts.clamp)
        return cls(w.key, w.start, w.end, tm, counts, k, six_losses(tm, counts, opts.ideal_cycle_s),
                   k.flags + extra_flags)


def classify_stops(log: EventLog, until: int, minor_stop_us: int) -> tuple[np.ndarray, np.ndarray]:
    """State codes with each down span labelled failure or minor stop by its full length, and span ends."""
    ends = np.empty_like(log.state_ts)
    if len(ends):
        ends[:-1] = log.state_ts[1:]
        ends[-1] = max(until, log.state_ts[-1])
    codes = log.state.copy()
    down = codes == FAILURE
    codes[down & (ends - log.state_ts < minor_stop_us)] = MINOR_STOP
    return codes, ends


def _locate(starts: np.ndarray, ends: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Index of the (sorted, disjoint) interval holding each x, or -1."""
    i = np.searchsorted(starts, x, side="right") - 1
    ok = (i >= 0) & (x < ends[np.clip(i, 0, None)] if len(ends) else False)
    return np.where(ok, i, -1)


def _spans(spans: Sequence[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.array(sorted(spans), dtype=np.int64).reshape(-1, 3)
    return a[:, 0], a[:, 1], a[:, 2]


NCAT = 8  # the seven state codes, plus planned down time from the calendar
CAL_DOWN = 7


def oee_windows(log: EventLog, windows: Sequence[Window], opts: OeeOptions, until: int | None = None
                ) -> list[OeeWindow]:
    """Windows must not overlap each other (compute shifts and days in separate calls)."""
    if not windows:
        return []
    if until is None:
        until = max(w.end for w in windows)
    else:  # data ends at `until`: nothing after it is extrapolated
        windows = [w.clipped(until) for w in windows if w.start < until]
        if not windows:
            return []
    log = log.without_repeats()
    codes, _ = classify_stops(log, until, int(opts.minor_stop_s * US))
    ws, we, wi = _spans([(w.start, w.end, i) for i, w in enumerate(windows)])
    ps, pe, _ = _spans([(s.start, s.end, 0) for w in windows for s in w.planned])
    ds, de, _ = _spans([(s.start, s.end, 0) for w in windows for s in w.planned_down])
    cuts = np.unique(np.concatenate([ws, we, ps, pe, ds, de, log.state_ts[(log.state_ts > ws[0])
                                                                          & (log.state_ts < we[-1])]]))
    seg_start, seg_len = cuts[:-1], np.diff(cuts)
    win = _locate(ws, we, seg_start)
    keep = win >= 0
    seg_start, seg_len, win = seg_start[keep], seg_len[keep], wi[win[keep]]
    planned = _locate(ps, pe, seg_start) >= 0
    cal_down = _locate(ds, de, seg_start) >= 0
    si = np.searchsorted(log.state_ts, seg_start, side="right") - 1
    state = np.where(si >= 0, codes[np.clip(si, 0, None)] if len(codes) else UNKNOWN, UNKNOWN)
    cat = np.where(cal_down, CAL_DOWN, state)
    n = len(windows)
    pot = np.bincount(win[planned], weights=seg_len[planned], minlength=n)
    cal = np.bincount(win, weights=seg_len, minlength=n)
    by_cat = np.bincount(win[planned] * NCAT + cat[planned], weights=seg_len[planned], minlength=n * NCAT)
    by_cat = np.rint(by_cat).astype(np.int64).reshape(n, NCAT)

    # stops are counted in the window where they start, when they start in planned busy time
    stop_counts = np.zeros((n, 2), np.int64)
    for col, code in ((0, FAILURE), (1, MINOR_STOP)):
        starts = log.state_ts[codes == code]
        sw = _locate(ws, we, starts)
        ok = (sw >= 0) & (_locate(ps, pe, starts) >= 0) & (_locate(ds, de, starts) < 0)
        np.add.at(stop_counts[:, col], wi[sw[ok]], 1)

    part_counts = _part_counts(log, codes, ws, we, wi, n, int(opts.startup_s * US))
    pw = _locate(ws, we, log.part_ts)
    outside = (pw >= 0) & (_locate(ps, pe, log.part_ts) < 0)
    np.add.at(part_counts[:, 4], wi[pw[outside]], log.part_count[outside])
    out = []
    for i, w in enumerate(windows):
        c = by_cat[i]
        tm = TimeModel(
            calendar=round(cal[i]), pot=round(pot[i]), pdot=int(c[CAL_DOWN] + c[PLANNED_STOP]),
            apt=int(c[PRODUCING]), aust=int(c[SETUP]), failure=int(c[FAILURE]), minor_stop=int(c[MINOR_STOP]),
            waiting=int(c[WAITING]), unknown=int(c[UNKNOWN]),
            failures=int(stop_counts[i, 0]), minor_stops=int(stop_counts[i, 1]))
        good, scrap, rework, startup = (int(v) for v in part_counts[i, :4])
        flags = ("parts_outside_planned_time",) if part_counts[i, 4] else ()
        out.append(OeeWindow.build(w, tm, Counts.of(good, scrap, rework, startup, int(part_counts[i, 5])), opts,
                                   flags))
    return out


def _part_counts(log: EventLog, codes: np.ndarray, ws: np.ndarray, we: np.ndarray, wi: np.ndarray, n: int,
                 startup_us: int) -> np.ndarray:
    """Per window: good, scrap, rework, start-up scrap, a column for parts outside planned time (filled by the
    caller) and 1 where the window's first part may have been begun before it."""
    out = np.zeros((n, 6), np.int64)
    pw = _locate(ws, we, log.part_ts)
    ok = pw >= 0
    w = wi[pw[ok]]
    outcome, count = log.part_outcome[ok], log.part_count[ok]
    # the window's first part event, when the unit was producing (or stopped mid-part) as the window began
    windows_with_parts = np.unique(w)
    before = np.searchsorted(log.state_ts, ws, side="left") - 1  # the last state change before each window
    began = np.zeros(n, bool)
    began[wi] = (before >= 0) & np.isin(log.state[np.clip(before, 0, None)], list(BEGUN_BEFORE)) \
        if len(log.state) else False
    out[windows_with_parts, 5] = began[windows_with_parts]
    for col, code in ((0, GOOD), (1, SCRAP), (2, REWORK)):
        m = outcome == code
        np.add.at(out[:, col], w[m], count[m])
    if startup_us > 0 and len(codes):
        prev = np.concatenate([[UNKNOWN], codes[:-1]])
        restart = (codes == PRODUCING) & np.isin(prev, list(RESTARTS_FROM))
        restart_at = np.flatnonzero(restart)
        pts = log.part_ts[ok]
        si = np.searchsorted(log.state_ts, pts, side="right") - 1  # the state each part was made in
        # a start-up part is made in the very producing run that a restart began
        same_run = np.isin(si, restart_at)
        last_restart = log.state_ts[np.clip(si, 0, None)]
        m = (outcome == SCRAP) & same_run & (pts - last_restart <= startup_us)
        np.add.at(out[:, 3], w[m], count[m])
    return out

