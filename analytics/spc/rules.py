"""Run rules that turn a control chart into a detector: Western Electric (1956) and Nelson (1984).

Each rule looks at the points in σ units from the centre line; a violation is reported at the point that
completes the pattern, so feeding points one by one reports each pattern once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    index: int
    description: str


def _beyond(z: np.ndarray, i: int, m: int, n: int, level: float) -> bool:
    """At least m of the last n points (ending at i) beyond `level` σ, all on the same side."""
    w = z[i - n + 1: i + 1]
    return bool((z[i] > level and (w > level).sum() >= m) or (z[i] < -level and (w < -level).sum() >= m))


def _same_side(z: np.ndarray, i: int, n: int) -> bool:
    w = z[i - n + 1: i + 1]
    return bool((w > 0).all() or (w < 0).all())


def _trend(z: np.ndarray, i: int, n: int) -> bool:
    d = np.diff(z[i - n + 1: i + 1])
    return bool((d > 0).all() or (d < 0).all())


def _alternating(z: np.ndarray, i: int, n: int) -> bool:
    d = np.sign(np.diff(z[i - n + 1: i + 1]))
    return bool((d != 0).all() and (d[1:] == -d[:-1]).all())


Rule = tuple[str, int, str, Callable[[np.ndarray, int], bool]]

WESTERN_ELECTRIC: tuple[Rule, ...] = (
    ("we1", 1, "one point beyond 3σ", lambda z, i: abs(z[i]) > 3),
    ("we2", 3, "2 of 3 points beyond 2σ on one side", lambda z, i: _beyond(z, i, 2, 3, 2)),
    ("we3", 5, "4 of 5 points beyond 1σ on one side", lambda z, i: _beyond(z, i, 4, 5, 1)),
    ("we4", 8, "8 points in a row on one side of the centre", lambda z, i: _same_side(z, i, 8)),
)
NELSON: tuple[Rule, ...] = (
    ("nelson1", 1, "one point beyond 3σ", lambda z, i: abs(z[i]) > 3),
    ("nelson2", 9, "9 points in a row on one side of the centre", lambda z, i: _same_side(z, i, 9)),
    ("nelson3", 6, "6 points in a row steadily rising or falling", lambda z, i: _trend(z, i, 6)),
    ("nelson4", 14, "14 points in a row alternating up and down", lambda z, i: _alternating(z, i, 14)),
    ("nelson5", 3, "2 of 3 points beyond 2σ on one side", lambda z, i: _beyond(z, i, 2, 3, 2)),
    ("nelson6", 5, "4 of 5 points beyond 1σ on one side", lambda z, i: _beyond(z, i, 4, 5, 1)),
    ("nelson7", 15, "15 points in a row within 1σ (suspiciously little variation)",
     lambda z, i: bool((np.abs(z[i - 14: i + 1]) < 1).all())),
    ("nelson8", 8, "8 points in a row beyond 1σ, either side", lambda z, i: bool((np.abs(z[i - 7: i + 1]) > 1).all())),
)


def violations(points: Sequence[float], center: float, sigma: float, rules: Sequence[Rule] = NELSON,
               since: int = 0) -> list[Violation]:
    """Violations completed at points from index `since` on (to check only what is new)."""
    if sigma <= 0:
        return []
    z = (np.asarray(points, dtype=float) - center) / sigma
    out = []
    for i in range(max(since, 0), z.size):
        for name, need, text, check in rules:
            if i + 1 >= need and check(z, i):
                out.append(Violation(name, i, text))
    return out
