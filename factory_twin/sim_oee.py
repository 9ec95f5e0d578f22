"""Per-station OEE from simulated state times, ISO 22400-2 definitions; one function, easy to replace.

availability = APT / PBT        (APT: producing time; PBT: all time except planned stops)
performance  = PRI * PQ / APT   (PRI: ideal cycle per part; PQ: parts produced, good + scrap + rework)
quality      = GQ / PQ
Performance is not clamped: above 1 means the ideal cycle time is slower than the machine really is.
A window without planned busy time has availability 1; one without produced parts has quality 1.
"""

from __future__ import annotations

from collections.abc import Mapping


def station_oee(time_s: Mapping[str, float], ideal_cycle_s: float, produced: int, good: int) -> dict[str, float]:
    """
    >>> r = station_oee({"producing": 22380, "down": 2820, "planned_stop": 3600}, 1.0, 19271, 18848)
    >>> round(r["availability"], 6), round(r["performance"], 6), round(r["quality"], 6), round(r["oee"], 6)
    (0.888095, 0.861081, 0.97805, 0.747937)
    """
    total = sum(time_s.values())
    pbt = total - time_s.get("planned_stop", 0.0)
    apt = time_s.get("producing", 0.0)
    availability = apt / pbt if pbt > 0 else 1.0
    performance = ideal_cycle_s * produced / apt if apt > 0 else 0.0
    quality = good / produced if produced else 1.0
    return {"availability": availability, "performance": performance, "quality": quality,
            "oee": availability * performance * quality}
