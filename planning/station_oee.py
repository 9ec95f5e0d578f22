"""Per-station OEE of a simulation run, from its state times, through `analytics.oee` (ISO 22400-2).

Conventions are the analytics' (docs/oee.md): performance is not clamped; a KPI whose denominator is zero is
reported as 0 here, since replications are averaged (a station that never ran in planned time made nothing).
"""

from __future__ import annotations

from collections.abc import Mapping

from analytics.oee import Counts, TimeModel, compute_kpis
from analytics.oee.model import US
from analytics.oee.states import FAILURE, MINOR_STOP, PLANNED_STOP, PRODUCING, SETUP, UNKNOWN, WAITING, state_code

_FIELDS = {PRODUCING: "apt", SETUP: "aust", FAILURE: "failure", MINOR_STOP: "minor_stop", WAITING: "waiting",
           UNKNOWN: "unknown"}


def station_oee(time_s: Mapping[str, float], ideal_cycle_s: float, produced: int, good: int,
                scrap: int | None = None, rework: int = 0) -> dict[str, float]:
    """
    >>> r = station_oee({"producing": 22380, "down": 2820, "planned_stop": 3600}, 1.0, 19271, 18848)
    >>> round(r["availability"], 6), round(r["performance"], 6), round(r["quality"], 6), round(r["oee"], 6)
    (0.888095, 0.861081, 0.97805, 0.747937)
    """
    parts = {f: 0 for f in _FIELDS.values()}
    pdot = calendar = 0
    for state, seconds in time_s.items():
        us = round(seconds * US)
        calendar += us
        code = state_code(state)
        if code == PLANNED_STOP:
            pdot += us
        else:
            parts[_FIELDS[code]] += us
    tm = TimeModel(calendar=calendar, pot=calendar, pdot=pdot, **parts)
    scrap = produced - good - rework if scrap is None else scrap
    k = compute_kpis(tm, Counts(produced, good, max(scrap, 0), rework), ideal_cycle_s)
    return {"availability": k.availability or 0.0, "performance": k.effectiveness or 0.0,
            "quality": k.quality if k.quality is not None else 1.0, "oee": k.oee or 0.0}
