"""Line OEE, output-based.

The line's OEE is its good output against what the line could have made in its planned busy time at the
pace of its slowest station (the bottleneck by ideal cycle time):

    line OEE = good parts leaving the line × bottleneck ideal cycle time / line planned busy time

Why output-based rather than the bottleneck station's own OEE: in a line, losses propagate (a failure
upstream starves the stations downstream; a stop downstream blocks the ones upstream), so multiplying or
averaging station OEEs counts a loss several times, and the bottleneck's own OEE misses scrap made after
it. The output measure counts each lost part once, and equals the bottleneck's OEE when it is the only
constraint and nothing is scrapped downstream of it.

The line's planned busy time is the known part of it, as for each station (analytics.oee.model): planned
time before the twin saw the last station's state (a twin started mid-shift, a gap in the data) is reported
as `unknown_s` and left out, so line and station figures describe the same observed time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analytics.oee.batch import OeeWindow
from analytics.oee.model import US


@dataclass(frozen=True, slots=True)
class LineOee:
    oee: float | None
    good: int
    bottleneck: str | None
    bottleneck_ideal_cycle_s: float | None
    planned_busy_time_s: float  # known: with the last station's state reported
    stations: Mapping[str, float | None]
    flags: tuple[str, ...] = ()
    unknown_s: float = 0.0  # planned busy time with no state known, left out

    def as_dict(self) -> dict[str, object]:
        return {"oee": self.oee, "good": self.good, "bottleneck": self.bottleneck,
                "bottleneck_ideal_cycle_s": self.bottleneck_ideal_cycle_s,
                "planned_busy_time_s": self.planned_busy_time_s, "unknown_s": self.unknown_s,
                "method": "output-based", "flags": list(self.flags)}


def line_oee(stations: Mapping[str, OeeWindow], ideal_cycle_s: Mapping[str, float | None], last: str
             ) -> LineOee:
    """`stations` in flow order; `last` is the station whose good output leaves the line."""
    known = {k: v for k, v in ideal_cycle_s.items() if v is not None}
    bottleneck = max(known, key=lambda k: known[k]) if known else None
    out = stations.get(last)
    good = out.counts.good if out else 0
    unknown = out.time.unknown if out else 0
    pbt = out.time.pbt - unknown if out else 0
    flags: list[str] = []
    if not pbt:
        flags.append("no_planned_time" if not unknown else "no_state_known")
    if unknown:
        flags.append("state_unknown_part_of_time")
    if bottleneck is None:
        flags.append("no_ideal_cycle_time")
    value = good * known[bottleneck] * US / pbt if bottleneck is not None and pbt > 0 else None
    if bottleneck is not None and value is not None and value > 1 and out is not None and out.counts.first \
            and (good - out.counts.first) * known[bottleneck] * US <= pbt:  # a window younger than a cycle
        flags.append("first_part_began_before_window")
    return LineOee(value, good, bottleneck, known.get(bottleneck) if bottleneck else None, pbt / US,
                   {k: v.kpis.oee for k, v in stations.items()}, tuple(flags), unknown / US)
