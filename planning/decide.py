"""Maintenance and speed decisions: every option simulated from the live state, ranked by good output.

For one station whose wear-out part is failing (an RUL or anomaly alert) or that fails often, the
options are: run on as it is (the reference), maintain now, at the next break, at the end of the shift,
or run on at reduced speed. Each option is simulated from the same start (`LineStart`: buffers, repairs
under way, the wear part's operating age, the time in the shift calendar) over the horizon, with the
same seeds (common random numbers), so differences between options have tight intervals. Replications
come in batches until the best option's lead over the runner-up is larger than its 95 % half-width, or
the budget (`max_replications`) is spent: then the result says it is not resolved.

Modelling assumptions, each a setting (`DecisionSettings`): a planned replacement takes
`planned_share` of the failure mode's mean repair time (parts and people are ready); at speed s the
wear-out part wears s ** `wear_speed_exponent` as fast per operating second (a bearing's life falls with
the cube of its load, and the load with the feed); a maintenance already overtaken by a failure (the
part was replaced in the repair) is not done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.calibration import proportion_ci
from plantmodel.plant import Line
from plantmodel.scenario import DecisionSettings, LineStart
from plantmodel.shifts import ShiftCalendarConfig, ShiftPlan, run_origin
from plantmodel.telemetry import to_micros
from simulators.flow.estimate import mean_ci
from simulators.flow.line import FlowLine
from simulators.flow.replications import replication_seed
from simulators.flow.station import Station

#: when the line has no calendar, where breaks and shift ends fall (times of day in the start's own zone)
DEFAULT_SHIFTS = ShiftCalendarConfig.model_validate({"shifts": [
    {"name": "early", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}]},
    {"name": "late", "start": "14:00", "end": "22:00", "breaks": [{"start": "18:00", "end": "18:30"}]},
    {"name": "night", "start": "22:00", "end": "06:00", "breaks": [{"start": "02:00", "end": "02:30"}]}]})
LOOKAHEAD_US = 8 * 86_400 * 1_000_000  # a week and a day: a weekly calendar's next shift end is inside
OPTIONS = ("run_on", "maintain_now", "maintain_at_break", "maintain_at_shift_end", "reduced_speed")


@dataclass(frozen=True)
class Option:
    name: str
    at_s: float | None = None  # when maintenance begins, from now
    speed: float = 1.0
    label: str = ""


def next_times(calendar: ShiftCalendarConfig | None, origin: datetime | None) -> tuple[float, float]:
    """Seconds from `origin` (the run's start, as the simulator places it) to the next break's start and the end
    of the shift under way (or the next one), from the calendar's shift occurrences (`ShiftPlan`): occurrences of
    one shift that follow on at once (a shift around the clock on weekdays) are one shift. No break ahead: the
    shift end; no shift end within a week and a day: that far."""
    cal = calendar
    if cal is None:  # the default shifts are times of day where the start is
        cal, origin = DEFAULT_SHIFTS, origin.replace(tzinfo=None) if origin is not None else None
    start = to_micros(run_origin(origin, cal.tz))
    periods = ShiftPlan(cal, cal.tz).periods(start, start + LOOKAHEAD_US)
    end, name = start + LOOKAHEAD_US, None
    for p in periods:
        if name is None:
            end, name = p.end, p.shift
        elif p.start == end and p.shift == name:
            end = p.end
        else:
            break
    breaks = [b.start for p in periods for b in p.planned_down if b.kind == "break" and b.start > start]
    return (min(breaks, default=end) - start) / 1e6, (end - start) / 1e6


def options(line: Line, origin: datetime | None, settings: DecisionSettings) -> list[Option]:
    to_break, to_end = next_times(line.config.simulation.calendar, origin)
    return [Option("run_on", label="run on"),
            Option("maintain_now", 0.0, label="maintain now"),
            Option("maintain_at_break", to_break, label=f"at next break (+{to_break / 3600:.1f} h)"),
            Option("maintain_at_shift_end", to_end, label=f"at shift end (+{to_end / 3600:.1f} h)"),
            Option("reduced_speed", speed=settings.reduced_speed,
                   label=f"run on at {settings.reduced_speed:.0%} speed")]


def wear_modes(station: Station) -> list[str]:
    return sorted({c.reason for c in station.clocks[0] if c.wear}) or sorted({c.reason for c in station.clocks[0]})


def planned_repair_s(station: Station, settings: DecisionSettings) -> float:
    """A planned replacement of the wear part: a share of its failure mode's mean repair time."""
    from simulators.flow.station import failure_modes

    modes = [m for m in failure_modes(station.asset) if m.wear] or failure_modes(station.asset)
    return settings.planned_share * max((m.ttr.expected for m in modes), default=3600.0)


def maintain(line: FlowLine, station: Station, at_s: float, duration_s: float, reasons: list[str]) -> Generator:
    """Stop the station for planned maintenance at `at_s`; its wear part is new afterwards (unless it failed
    first, and was replaced in the repair)."""
    before = sum(station.failed_by.get(r, 0) for r in reasons)
    if at_s > 0:
        yield line.env.timeout(at_s)
    if sum(station.failed_by.get(r, 0) for r in reasons) > before:
        return
    station.hold(duration_s)
    yield line.env.timeout(duration_s)
    for clocks in station.clocks:
        for clock in clocks:
            if clock.reason in reasons:
                clock.renew()
    station.planned_maintenance += 1  # a new part from now


def apply(line: FlowLine, station: Station, option: Option, settings: DecisionSettings) -> None:
    """Put an option into a running (or about to run) line."""
    if option.speed != 1.0:
        station.speed = option.speed
        station.wear_scale = option.speed ** settings.wear_speed_exponent
    if option.at_s is not None:
        line.env.process(maintain(line, station, option.at_s, planned_repair_s(station, settings),
                                  wear_modes(station)))


def run_option(line: Line, start: LineStart, asset_id: str, option: Option, settings: DecisionSettings, seed: int,
               r: int) -> dict[str, float]:
    sim = FlowLine(line, replication_seed(seed, r), start=start)
    station = next(s for s in sim.stations if s.id == asset_id)
    reasons = wear_modes(station)
    apply(sim, station, option, settings)
    result = sim.run(settings.horizon_h, 0, settings.max_events_per_run)
    unplanned = sum(station.failed_by.get(m, 0) for m in reasons)
    down = sum(st["time_s"].get("down", 0.0) for st in result["stations"].values())
    return {"good": float(result["good"]), "unplanned_failures": float(unplanned), "unplanned_downtime_s": down}


def evaluate(line: Line, start: LineStart, asset_id: str, settings: DecisionSettings, seed: int = 1,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Every option, ranked by expected good parts over the horizon, with intervals, the paired difference to
    running on, and the risk of an unplanned failure of the wear part."""
    t0 = time.perf_counter()
    opts = options(line, start.origin, settings)
    runs: dict[str, list[dict[str, float]]] = {o.name: [] for o in opts}
    total = settings.max_replications * len(opts)
    done, resolved = 0, False
    while True:
        n0 = len(runs["run_on"])
        t_batch = time.perf_counter()
        for o in opts:
            for r in range(n0, n0 + settings.batch):
                runs[o.name].append(run_option(line, start, asset_id, o, settings, seed, r))
                done += 1
                if progress:
                    progress(done, total)
        ranked = _rank(opts, runs)
        resolved = _resolved(ranked, settings)
        n = len(runs["run_on"])
        batch_s = time.perf_counter() - t_batch
        if resolved or n + settings.batch > settings.max_replications or \
                time.perf_counter() - t0 + batch_s > settings.max_wall_s:
            break
    station = next(s for s in FlowLine(line, 0).stations if s.id == asset_id)
    return {"asset": asset_id, "horizon_h": settings.horizon_h, "replications": len(runs["run_on"]),
            "options": ranked, "best": ranked[0]["name"], "resolved": resolved,
            "seconds": time.perf_counter() - t0, "planned_repair_s": planned_repair_s(station, settings),
            "wear_modes": wear_modes(station), "start": start.model_dump(mode="json")}


def _resolved(ranked: list[dict[str, Any]], settings: DecisionSettings) -> bool:
    """Enough replications: the chosen option's gain over running on has an interval narrower than the gain (or,
    when running on is best, the next option's loss does), and the lead over the runner-up is either clear or
    inside the indifference zone (the two are equivalent: `equivalent_to` names it)."""
    best = ranked[0]
    if best["name"] == "run_on":
        gain_ok = ranked[1]["vs_run_on"]["ci95"][1] < 0
    else:
        low, high = best["vs_run_on"]["ci95"]
        gain_ok = (high - low) / 2 < abs(best["vs_run_on"]["mean"])
    lead = best["vs_runner_up"]
    zone = settings.indifference_share * next(r for r in ranked if r["name"] == "run_on")["good_parts"]["mean"]
    if lead["ci95"][0] > 0:
        return gain_ok
    if -zone <= lead["ci95"][0] and lead["ci95"][1] <= zone:
        best["equivalent_to"] = best["runner_up"]
        return gain_ok
    return False


def _rank(opts: list[Option], runs: dict[str, list[dict[str, float]]]) -> list[dict[str, Any]]:
    base = runs["run_on"]
    rows: list[dict[str, Any]] = []
    for o in opts:
        rs = runs[o.name]
        good = [x["good"] for x in rs]
        failed = sum(1 for x in rs if x["unplanned_failures"] > 0)
        rows.append({
            "name": o.name, "label": o.label, "at_s": o.at_s, "speed": o.speed,
            "good_parts": mean_ci(good),
            "vs_run_on": mean_ci([x["good"] - b["good"] for x, b in zip(rs, base, strict=True)]),
            "unplanned_failure_risk": {"p": failed / len(rs), "ci95": list(proportion_ci(failed, len(rs)))},
            "unplanned_downtime_s": mean_ci([x["unplanned_downtime_s"] for x in rs]),
        })
    rows.sort(key=lambda row: (-row["good_parts"]["mean"], row["unplanned_failure_risk"]["p"]))
    best = rows[0]
    for row in rows:
        row["vs_runner_up"] = None
    if len(rows) > 1:
        second = next(o for o in opts if o.name == rows[1]["name"])
        first = next(o for o in opts if o.name == best["name"])
        best["vs_runner_up"] = mean_ci([a["good"] - b["good"] for a, b in
                                        zip(runs[first.name], runs[second.name], strict=True)])
        best["runner_up"] = second.name
    return rows
