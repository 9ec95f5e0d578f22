"""`factory-twin bench oee`: OEE over a 30-day event log of the demo line, batch and live.

The log is generated, seeded, at the demo line's rates: each station alternates producing runs with
waiting (starved, blocked), minor stops, failures (its MTBF and MTTR) and set-ups, and reports one part
event per cycle (scrap at its scrap rate), as the edge agent derives them from the part counters.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analytics.oee import EventLog, OeeOptions, ShiftCalendar, Window, oee_windows
from analytics.oee.live import LiveOee
from analytics.oee.states import FAILURE, GOOD, MINOR_STOP, PRODUCING, SCRAP, SETUP, WAITING
from factory_twin.runtime import config_path
from plantmodel.catalog import AssetRole
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.telemetry import AssetState, Event, EventKind, from_micros, to_micros

US = 1_000_000
NAMES = {PRODUCING: AssetState.PRODUCING, WAITING: AssetState.STARVED, MINOR_STOP: AssetState.DOWN,
         FAILURE: AssetState.DOWN, SETUP: AssetState.SETUP}


def station_log(rng: np.random.Generator, start: int, end: int, cycle_s: float, mtbf_s: float, mttr_s: float,
                scrap: float) -> tuple[EventLog, int]:
    """One station's month: columns of state changes and part events."""
    n = int((end - start) / US / 200) + 10
    run = rng.exponential(240.0, n)  # producing runs end with an interruption
    p_fail = min(240.0 / mtbf_s, 0.5)  # runs of 240 s on average: one in mtbf/240 ends in a failure
    kind = rng.choice([WAITING, MINOR_STOP, FAILURE, SETUP], n, p=[0.8 - p_fail, 0.196, p_fail, 0.004])
    pause = np.where(kind == WAITING, rng.exponential(45.0, n), np.where(
        kind == MINOR_STOP, rng.exponential(40.0, n), np.where(kind == FAILURE, rng.exponential(mttr_s, n),
                                                                 rng.exponential(900.0, n))))
    durations = np.column_stack([run, pause]).ravel()
    codes = np.column_stack([np.full(n, PRODUCING), kind]).ravel()
    ts = start + np.concatenate([[0], np.cumsum(durations[:-1] * US)]).astype(np.int64)
    keep = ts < end
    ts, codes, durations = ts[keep], codes[keep], durations[keep]
    prod = codes == PRODUCING
    cycles = np.floor(durations[prod] / (cycle_s * 1.06)).astype(np.int64)  # a little slower than ideal
    part_ts = np.concatenate([s + (np.arange(1, c + 1) * cycle_s * 1.06 * US).astype(np.int64)
                              for s, c in zip(ts[prod], cycles, strict=True)])
    outcome = np.where(rng.random(part_ts.size) < scrap, SCRAP, GOOD).astype(np.int8)
    state = np.array([c if c != MINOR_STOP else FAILURE for c in codes], dtype=np.int8)  # both are "down"
    return EventLog.from_arrays(ts, state, part_ts, outcome), int(ts.size + part_ts.size)


def as_events(asset: str, log: EventLog) -> list[Event]:
    """The same log as the event objects the twin receives, in time order."""
    out = [(int(t), 0, Event(asset, EventKind.STATE_CHANGE, from_micros(int(t)), {"to": str(NAMES[int(c)])}))
           for t, c in zip(log.state_ts, log.state, strict=True)]
    out += [(int(t), 1, Event(asset, EventKind.PART, from_micros(int(t)),
                              {"outcome": "good" if o == GOOD else "scrap", "count": 1}))
            for t, o in zip(log.part_ts, log.part_outcome, strict=True)]
    out.sort(key=lambda r: (r[0], r[1]))
    return [e for _, _, e in out]


def run(days: int = 30, seed: int = 1) -> dict[str, Any]:
    plant = load_config(config_path("demo-plant.yaml"), PlantConfig)
    cal_cfg = load_config(config_path("shifts-demo.yaml"), ShiftCalendarConfig)
    calendar = ShiftCalendar(cal_cfg, cal_cfg.tz)
    start = to_micros(datetime(2026, 10, 1, 4, tzinfo=UTC))  # 06:00 in Berlin, a month across the DST change
    end = start + days * 86_400 * US
    periods = calendar.periods(start, end)
    shifts = [Window.of_period(p) for p in periods]
    days_w = [Window.over(f"day{i}", start + i * 86_400 * US, start + (i + 1) * 86_400 * US, periods)
              for i in range(days)]
    stations = [a for a in plant.assets() if a.role is AssetRole.STATION]
    rng = np.random.default_rng(seed)
    logs, n_events = {}, 0
    for a in stations:
        sim = a.config.sim
        log, n = station_log(rng, start, end, a.config.ideal_cycle_time_s or 30.0, sim.mtbf_s or 10 * 86_400.0,
                             sim.mttr_s, sim.scrap_rate)
        logs[a.path] = log
        n_events += n
    opts = {a.path: OeeOptions(a.config.ideal_cycle_time_s, minor_stop_s=120) for a in stations}

    t0 = time.perf_counter()
    batch = {p: oee_windows(log, shifts, opts[p]) + oee_windows(log, days_w, opts[p]) for p, log in logs.items()}
    batch_s = time.perf_counter() - t0

    events = {p: as_events(p, log) for p, log in logs.items()}
    t0 = time.perf_counter()
    rebuilt = {p: EventLog.from_events(ev) for p, ev in events.items()}
    for p, log in rebuilt.items():
        oee_windows(log, shifts, opts[p])
        oee_windows(log, days_w, opts[p])
    from_objects_s = time.perf_counter() - t0

    # live: every event through the live windows of its shift and its day (and the shift before, which
    # still closes a stop that spans the change), as the twin applies them
    probe = stations[0].path
    t0 = time.perf_counter()
    fed = 0
    probe_windows: list[LiveOee] = []
    for p, ev in events.items():
        si = di = 0
        cur_s, cur_d = LiveOee(shifts[0], opts[p]), LiveOee(days_w[0], opts[p])
        prev_s: LiveOee | None = None
        if p == probe:
            probe_windows.append(cur_s)
        for e in ev:
            t = to_micros(e.ts)
            while t >= shifts[si].end and si + 1 < len(shifts):
                si += 1
                prev_s, cur_s = cur_s, _carry(cur_s, shifts[si], opts[p])
                if p == probe:
                    probe_windows.append(cur_s)
            while t >= days_w[di].end and di + 1 < len(days_w):
                di += 1
                cur_d = _carry(cur_d, days_w[di], opts[p])
            cur_s.add(e)
            cur_d.add(e)
            if prev_s is not None:
                prev_s.add(e)
            fed += 1
    live_s = time.perf_counter() - t0
    tracemalloc.start()  # the memory one asset's live shift window holds at the end of a shift
    w = LiveOee(shifts[1], opts[probe])
    for e in events[probe]:
        if shifts[1].start <= to_micros(e.ts) < shifts[1].end:
            w.add(e)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    live_results = [w.result() for w in probe_windows]
    same = len(live_results) == len(shifts) and all(
        lr.time == b.time and lr.counts == b.counts for lr, b in zip(live_results, batch[probe], strict=False))
    kpis = [w.kpis.oee for w in batch[probe][: len(shifts)] if w.kpis.oee is not None]
    return {
        "days": days, "assets": len(stations), "events": n_events, "shifts": len(shifts),
        "windows": len(stations) * (len(shifts) + len(days_w)),
        "batch_s": round(batch_s, 4), "batch_from_event_objects_s": round(from_objects_s, 3),
        "live_us_per_event": round(live_s / fed * 1e6, 2), "live_events": fed,
        "live_window_kb": round(peak / 2**10, 1), "live_equals_batch": same,
        "probe_asset": probe, "probe_shift_oee_mean": round(float(np.mean(kpis)), 4) if kpis else None,
    }


def _carry(previous: LiveOee, window: Window, opts: OeeOptions) -> LiveOee:
    """A new window starts in the state the previous one ended in."""
    nxt = LiveOee(window, opts)
    last = previous.last_state_change
    if last is not None:
        nxt.add(last)
    return nxt
