"""The ISO 22400-2 time model and the KPIs built on it.

Times are integer microseconds, so the elements of the time model add up exactly; KPIs are fractions.
Conventions (each has a test):

- A KPI whose denominator is zero is ``None`` (not 0, not 1, never NaN) and a flag says why; OEE itself
  is ``good · ideal cycle / PBT``, so it is 0, not ``None``, for a window that was planned but never ran.
- Planned busy time in which the unit's state is unknown (before its first event, a gap in the data) is
  ``unknown`` in the time model and left out of every KPI's denominator, flagged
  ``state_unknown_part_of_time``: the KPIs describe the observed part of the window.
- Effectiveness above 1 means the ideal cycle time is wrong: it is reported unclamped and flagged;
  ``clamp=True`` caps it at 1 (and OEE becomes A · 1 · Q). The window's first part may have been begun
  before the window (a shift change mid-cycle): the check leaves that part out, and a figure above 1 that
  it alone explains is flagged ``first_part_began_before_window`` instead.
- Counts without an ideal cycle time give availability and quality, and ``None`` for effectiveness,
  OEE, NEE and TEEP, flagged ``no_ideal_cycle_time``.

>>> tm = TimeModel(calendar=480 * MIN, pot=480 * MIN, pdot=60 * MIN, apt=373 * MIN, failure=47 * MIN)
>>> k = compute_kpis(tm, Counts(produced=19271, good=18848), ideal_cycle_s=1.0)
>>> round(k.availability, 6), round(k.effectiveness, 6), round(k.quality, 6), round(k.oee, 6)
(0.888095, 0.861081, 0.97805, 0.747937)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

US = 1_000_000
MIN = 60 * US


@dataclass(frozen=True, slots=True)
class TimeModel:
    """Durations in µs. ``pbt`` = ``pot − pdot`` = apt + aust + failure + minor_stop + waiting + unknown.

    ``waiting`` is time the unit could have run but had no work or nowhere to put it (starved, blocked,
    idle): a loss to availability in ISO 22400, but not the unit's own delay, so it is not in ADET.
    ``unknown`` is planned busy time with no state reported (before the first event, gaps in data).
    """

    calendar: int = 0
    pot: int = 0
    pdot: int = 0
    apt: int = 0
    aust: int = 0
    failure: int = 0
    minor_stop: int = 0
    waiting: int = 0
    unknown: int = 0
    failures: int = 0  # number of failure stops that ended or began in the window
    minor_stops: int = 0

    @property
    def pbt(self) -> int:
        return self.pot - self.pdot

    @property
    def adet(self) -> int:
        """Actual unit delay time: the unit's own unplanned interruptions (failures and minor stops)."""
        return self.failure + self.minor_stop

    @property
    def aupt(self) -> int:
        return self.apt + self.aust

    def __add__(self, other: TimeModel) -> TimeModel:
        return TimeModel(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def seconds(self) -> dict[str, float]:
        out = {f.name: getattr(self, f.name) / US for f in fields(self) if f.name not in ("failures", "minor_stops")}
        out |= {"pbt": self.pbt / US, "adet": self.adet / US, "aupt": self.aupt / US,
                "failures": self.failures, "minor_stops": self.minor_stops}
        return out


@dataclass(frozen=True, slots=True)
class Counts:
    """PQ = good + scrap + rework: each part is counted once, at its first pass.

    ``startup_scrap`` is the part of ``scrap`` made while the unit was starting up (reduced-yield loss).
    ``first`` is 1 when the window's first part may have been begun before the window (the unit was producing,
    or stopped mid-part, as it began), else 0: the check of the ideal cycle time does not hold that part's
    whole ideal time against the window's production time. One part at most, as a unit finishes one at a time.
    """

    produced: int = 0
    good: int = 0
    scrap: int = 0
    rework: int = 0
    startup_scrap: int = 0
    first: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @classmethod
    def of(cls, good: int = 0, scrap: int = 0, rework: int = 0, startup_scrap: int = 0, first: int = 0) -> Counts:
        return cls(good + scrap + rework, good, scrap, rework, startup_scrap, first)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


@dataclass(frozen=True, slots=True)
class Kpis:
    availability: float | None
    effectiveness: float | None
    quality: float | None
    oee: float | None
    nee: float | None
    teep: float | None
    technical_efficiency: float | None
    setup_rate: float | None
    mtbf_s: float | None
    mttr_s: float | None
    scrap_ratio: float | None
    rework_ratio: float | None
    first_pass_yield: float | None
    final_yield: float | None
    throughput_per_hour: float | None
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def performance(self) -> float | None:
        """Effectiveness under its everyday name."""
        return self.effectiveness

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["performance"] = self.effectiveness
        d["flags"] = list(self.flags)
        return d


def compute_kpis(tm: TimeModel, counts: Counts, ideal_cycle_s: float | None, *, clamp: bool = False) -> Kpis:
    flags: list[str] = []
    # planned busy time with no state known is left out of the denominators (and reported, and flagged):
    # a twin started mid-shift, or a gap in the data, is not a loss the line made
    pbt, apt = tm.pbt - tm.unknown, tm.apt
    if tm.pbt <= 0:
        flags.append("no_planned_time")
    elif pbt <= 0:
        flags.append("no_state_known")
    if ideal_cycle_s is None and counts.produced:
        flags.append("no_ideal_cycle_time")
    if tm.unknown:
        flags.append("state_unknown_part_of_time")
    pri = ideal_cycle_s * US if ideal_cycle_s is not None else None
    availability = _ratio(apt, pbt)
    quality = _ratio(counts.good, counts.produced)
    effectiveness = _ratio(pri * counts.produced, apt) if pri is not None else None
    clamped = False
    if pri is not None and effectiveness is not None and effectiveness > 1:
        # the first part may have been begun in the window before: only what it cannot explain is the
        # ideal cycle time's fault (else every shift change mid-cycle would accuse a good setting)
        wrong = pri * (counts.produced - counts.first) > apt
        flags.append("effectiveness_above_1" if wrong else "first_part_began_before_window")
        if clamp:
            effectiveness, clamped = 1.0, True
    if pri is None or pbt <= 0:
        oee = None
    elif clamped:
        oee = (availability or 0.0) * (quality if quality is not None else 0.0)
    else:
        oee = pri * counts.good / pbt  # = A · E · Q ≤ E, and still defined when APT or PQ is 0
    nee = None
    if effectiveness is not None and quality is not None and pbt > 0:
        nee = tm.aupt / pbt * effectiveness * quality
    elif oee is not None and pbt > 0 and tm.aupt == 0:
        nee = 0.0
    observed = tm.calendar - tm.unknown
    teep = oee * pbt / observed if oee is not None and observed > 0 else None
    return Kpis(
        availability=availability,
        effectiveness=effectiveness,
        quality=quality,
        oee=oee,
        nee=nee,
        teep=teep,
        technical_efficiency=_ratio(apt, apt + tm.adet),
        setup_rate=_ratio(tm.aust, tm.aupt),
        mtbf_s=apt / US / tm.failures if tm.failures else None,
        mttr_s=tm.failure / US / tm.failures if tm.failures else None,
        scrap_ratio=_ratio(counts.scrap, counts.produced),
        rework_ratio=_ratio(counts.rework, counts.produced),
        first_pass_yield=quality,
        final_yield=_ratio(counts.good + counts.rework, counts.produced),
        throughput_per_hour=_ratio(counts.produced * 3600 * US, pbt),
        flags=tuple(flags),
    )


@dataclass(frozen=True, slots=True)
class SixLosses:
    """Nakajima's six big losses in seconds, in waterfall order.

    They add up to PBT − fully productive time (good · ideal cycle), with ``unaccounted`` (planned busy
    time with no known state, which the KPIs leave out) as a seventh bar that is 0 whenever the state was
    reported throughout.
    Waiting (starved, blocked, idle) is counted with minor stops as "idling", as in TPM.
    ``reduced_speed`` is negative when the ideal cycle time is slower than the real one.
    """

    equipment_failure: float
    setup_and_adjustment: float
    idling_and_minor_stops: float
    reduced_speed: float
    process_defects: float
    reduced_yield: float
    unaccounted: float
    planned_busy_time: float
    fully_productive_time: float

    def total(self) -> float:
        return (self.equipment_failure + self.setup_and_adjustment + self.idling_and_minor_stops
                + self.reduced_speed + self.process_defects + self.reduced_yield + self.unaccounted)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def six_losses(tm: TimeModel, counts: Counts, ideal_cycle_s: float | None) -> SixLosses | None:
    """``None`` without an ideal cycle time: speed and quality losses cannot be put in time units."""
    if ideal_cycle_s is None:
        return None
    pri = ideal_cycle_s
    defects = counts.produced - counts.good
    return SixLosses(
        equipment_failure=tm.failure / US,
        setup_and_adjustment=tm.aust / US,
        idling_and_minor_stops=(tm.minor_stop + tm.waiting) / US,
        reduced_speed=tm.apt / US - counts.produced * pri,
        process_defects=(defects - counts.startup_scrap) * pri,
        reduced_yield=counts.startup_scrap * pri,
        unaccounted=tm.unknown / US,
        planned_busy_time=tm.pbt / US,
        fully_productive_time=counts.good * pri,
    )
