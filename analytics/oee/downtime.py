"""Stops found in the state history, their reasons, and the Pareto of losses.

A stop is "unqualified" until it has a reason: one mapped from the machine's alarm code, or one a person
attached. Durations are clipped to the window asked for, so a Pareto over a shift adds up to that
shift's stop time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from analytics.oee.batch import classify_stops
from analytics.oee.model import US
from analytics.oee.states import FAILURE, MINOR_STOP, PLANNED_STOP, SETUP, EventLog

UNQUALIFIED = "unqualified"
KINDS = {FAILURE: "failure", MINOR_STOP: "minor_stop", SETUP: "setup", PLANNED_STOP: "planned_stop"}


@dataclass(frozen=True, slots=True)
class Stop:
    asset: str
    start: int
    end: int | None  # None while the stop goes on
    kind: str
    code: str | None = None  # the machine's alarm code, when it gave one
    reason: str | None = None

    @property
    def id(self) -> str:
        return f"{self.asset}@{self.start}"

    @property
    def label(self) -> str:
        return self.reason or UNQUALIFIED

    def duration_s(self, until: int, start: int | None = None) -> float:
        end = until if self.end is None else min(self.end, until)
        return max(0, end - max(self.start, start if start is not None else self.start)) / US


def find_stops(asset: str, log: EventLog, until: int, minor_stop_s: float = 120.0,
               reasons: Mapping[str, str] | None = None) -> list[Stop]:
    """Every failure, minor stop, set-up and planned stop, with reasons mapped from alarm codes."""
    log = log.without_repeats()
    codes, ends = classify_stops(log, until, int(minor_stop_s * US))
    out = []
    last = len(codes) - 1
    for i in np.flatnonzero(np.isin(codes, list(KINDS))):
        code = log.reason[i]
        reason = (reasons or {}).get(code) if code else None
        end = None if i == last and ends[i] >= until else int(ends[i])
        out.append(Stop(asset, int(log.state_ts[i]), end, KINDS[int(codes[i])], code, reason))
    return out


def qualify(stops: Iterable[Stop], reasons: Mapping[str, str]) -> list[Stop]:
    """Attach the reasons people gave (by stop id); a reason given later wins over a mapped one."""
    return [replace(s, reason=reasons[s.id]) if s.id in reasons else s for s in stops]


@dataclass(frozen=True, slots=True)
class ParetoBar:
    key: str
    seconds: float
    count: int
    share: float
    cumulative: float


def pareto(stops: Iterable[Stop], start: int, end: int, by: Callable[[Stop], str] = lambda s: s.label
           ) -> list[ParetoBar]:
    """Stop time inside [start, end) by `by` (reason, asset, kind, shift…), largest first."""
    totals: dict[str, list[float]] = {}
    for s in stops:
        if s.start >= end or (s.end is not None and s.end <= start):
            continue
        t = totals.setdefault(by(s), [0.0, 0])
        t[0] += s.duration_s(end, start)
        t[1] += 1
    grand = sum(t[0] for t in totals.values())
    bars, cum = [], 0.0
    for key, (sec, n) in sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0])):
        share = sec / grand if grand else 0.0
        cum += share
        bars.append(ParetoBar(key, sec, int(n), share, min(cum, 1.0)))
    return bars
