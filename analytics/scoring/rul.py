"""Scoring remaining-useful-life estimates against the true RUL over the life of a component."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class RulScore:
    points: int  # estimates with a finite RUL
    missing: int  # evaluation points where no finite estimate was made (no trend yet)
    mae: float | None  # mean |estimate - truth| over the finite estimates
    coverage: float | None  # share of finite estimates whose interval holds the truth
    at_life_left: dict[float, float | None]  # |error| at the estimate nearest each share of life left

    def as_dict(self) -> dict[str, object]:
        return {"points": self.points, "missing": self.missing, "mae": self.mae, "coverage": self.coverage,
                "abs_error_at_life_left": {f"{round(100 * k)}%": v for k, v in self.at_life_left.items()}}


def score_rul(true_rul: ArrayLike, estimate: ArrayLike, low: ArrayLike, high: ArrayLike, life: float,
              shares: Sequence[float] = (0.75, 0.5, 0.25, 0.1)) -> RulScore:
    """Score one life: estimates with intervals [low, high] at points where the true RUL is `true_rul`.

    `life` is the whole life (true RUL at its start); an infinite or NaN estimate counts as missing. The error
    at a share of life left is taken at the evaluation point whose true RUL is nearest `share × life`.

    >>> s = score_rul([30, 20, 10], [36, 18, float("inf")], [25, 15, 5], [40, 19, 20], life=40, shares=(0.5,))
    >>> s.points, s.missing, s.mae, s.coverage, s.at_life_left
    (2, 1, 4.0, 0.5, {0.5: 2.0})
    """
    t = np.asarray(true_rul, dtype=float)
    e, lo, hi = (np.asarray(a, dtype=float) for a in (estimate, low, high))
    if not t.shape == e.shape == lo.shape == hi.shape:
        raise ValueError(f"shapes differ: truth {t.shape}, estimate {e.shape}, low {lo.shape}, high {hi.shape}")
    ok = np.isfinite(e)
    err = np.abs(e - t)
    inside = (lo <= t) & (t <= hi)
    at: dict[float, float | None] = {}
    for share in shares:
        if len(t) == 0:
            at[share] = None
            continue
        i = int(np.argmin(np.abs(t - share * life)))
        at[share] = float(err[i]) if ok[i] else None
    n = int(ok.sum())
    return RulScore(points=n, missing=int(len(t) - n), mae=float(err[ok].mean()) if n else None,
                    coverage=float(inside[ok].mean()) if n else None, at_life_left=at)
