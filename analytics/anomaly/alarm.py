"""An alarm names the signals that drove it, so an operator knows where to look first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class Alarm:
    """A score over its threshold, with each signal's share of the score (shares sum to 1, largest first)."""

    score: float
    threshold: float
    contributions: tuple[tuple[str, float], ...]

    @property
    def severity(self) -> float:
        """How many times the threshold the score is (1.0 = just over)."""
        return self.score / self.threshold if self.threshold > 0 else float("inf")

    def top(self, n: int = 3) -> tuple[str, ...]:
        return tuple(name for name, _ in self.contributions[:n])


def explain(score: float, threshold: float, names: Sequence[str], contributions: ArrayLike) -> Alarm:
    """Turn one row of per-signal contributions into an `Alarm` with normalised shares, largest first.

    >>> explain(9.0, 4.0, ["a", "b"], [1.0, 3.0]).contributions
    (('b', 0.75), ('a', 0.25))
    """
    c = np.abs(np.asarray(contributions, dtype=float))
    total = float(c.sum())
    shares = c / total if total > 0 else np.full(len(c), 1.0 / max(len(c), 1))
    order = np.argsort(-shares, kind="stable")
    return Alarm(float(score), float(threshold), tuple((names[i], round(float(shares[i]), 6)) for i in order))
