"""`factory-twin oee`: check one shift's OEE by hand, from the numbers on a shift report."""

from __future__ import annotations

import math
import re

from analytics.oee import Counts, TimeModel, compute_kpis
from analytics.oee.model import US

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Seconds from '420m', '1s', '7h30m', '0.5h' or a bare number of seconds; never negative, NaN or infinite.

    >>> parse_duration("7h30m"), parse_duration("1s"), parse_duration("90")
    (27000.0, 1.0, 90.0)
    """
    t = text.strip().lower().replace(" ", "")
    try:
        seconds = float(t)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{text!r} is not a duration: a duration is a finite number of seconds, 0 or more")
        return seconds
    pos, total = 0, 0.0
    for m in _PART.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t:
        raise ValueError(f"{text!r} is not a duration (examples: 420m, 1s, 7h30m, 0.5h, 90)")
    return total


def input_problems(planned_busy_s: float, production_s: float, ideal_cycle_s: float | None, produced: int,
                   good: int, *, setup_s: float = 0.0, rework: int = 0, calendar_s: float | None = None
                   ) -> list[tuple[str, str]]:
    """(option, why) for every number of a shift report that cannot be true, or that no KPI could be built on.

    >>> input_problems(0, 0, 1.0, 700, 650)[0][1]
    'production time is 0 but 700 parts were produced'
    """
    found = []
    if good > produced:
        found.append(("--good", f"good ({good}) cannot exceed produced ({produced})"))
    if rework > produced - good:
        found.append(("--rework", f"rework ({rework}) cannot exceed the parts not good at first pass "
                                  f"({produced - good} = produced - good)"))
    if production_s > planned_busy_s:
        found.append(("--production-time", "production time cannot exceed planned busy time"))
    if production_s + setup_s > planned_busy_s and setup_s:
        found.append(("--setup-time", "production time and setup time together cannot exceed planned busy time"))
    if production_s == 0 and produced > 0:
        found.append(("--production-time", f"production time is 0 but {produced} parts were produced"))
    if ideal_cycle_s is not None and ideal_cycle_s <= 0:
        found.append(("--ideal-cycle-time", "the ideal cycle time must be more than 0 (no part takes no time)"))
    if calendar_s is not None and calendar_s < planned_busy_s:
        found.append(("--calendar-time", "calendar time cannot be less than planned busy time"))
    return found


def shift_kpis(planned_busy_s: float, production_s: float, ideal_cycle_s: float | None, produced: int, good: int,
               *, setup_s: float = 0.0, rework: int = 0, calendar_s: float | None = None,
               clamp: bool = False) -> dict[str, object]:
    us = round
    pbt, apt, setup = us(planned_busy_s * US), us(production_s * US), us(setup_s * US)
    delay = max(pbt - apt - setup, 0)
    tm = TimeModel(calendar=us((calendar_s or planned_busy_s) * US), pot=pbt, apt=apt, aust=setup, failure=delay)
    counts = Counts(produced=produced, good=good, scrap=max(produced - good - rework, 0), rework=rework)
    k = compute_kpis(tm, counts, ideal_cycle_s, clamp=clamp)
    out = {"availability": k.availability, "performance": k.effectiveness, "quality": k.quality, "oee": k.oee}
    return out | {key: v for key, v in k.as_dict().items() if key not in out and key != "effectiveness"} | {
        "planned_busy_time_s": planned_busy_s, "production_time_s": production_s}
