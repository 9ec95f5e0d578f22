"""Thresholds from the healthy baseline's own scores, never hand-set.

`QuantileThreshold` takes an empirical quantile (times a safety margin); `PotThreshold` fits a generalised
Pareto distribution to the tail over a high quantile (peaks over threshold, Siffer et al., KDD 2017) and
extrapolates to a false-alarm risk smaller than the baseline can show empirically.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike


class ThresholdRule(Protocol):
    def __call__(self, scores: ArrayLike) -> float: ...


@dataclass(frozen=True, slots=True)
class QuantileThreshold:
    """`margin` × the `q` quantile of the healthy scores.

    >>> QuantileThreshold(q=1.0, margin=2.0)([1.0, 2.0, 3.0])
    6.0
    """

    q: float = 0.999
    margin: float = 1.0

    def __call__(self, scores: ArrayLike) -> float:
        s = _finite(scores)
        return float(np.quantile(s, self.q) * self.margin)


@dataclass(frozen=True, slots=True)
class PotThreshold:
    """The score exceeded with probability `risk` under a GPD fitted to the excesses over the `tail` quantile."""

    risk: float = 1e-4
    tail: float = 0.98

    def __call__(self, scores: ArrayLike) -> float:
        s = _finite(scores)
        t = float(np.quantile(s, self.tail))
        excess = s[s > t] - t
        if len(excess) < 10 or np.ptp(excess) == 0:  # too few peaks to fit: fall back to the largest score
            return float(s.max())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the optimiser probes invalid shapes on its way
            from scipy.stats import genpareto  # seconds to import: only when a threshold is fitted

            shape, _, scale = genpareto.fit(excess, floc=0)
        ratio = self.risk * len(s) / len(excess)
        if abs(shape) < 1e-8:
            return float(t - scale * np.log(ratio))
        return float(t + scale / shape * (ratio ** (-shape) - 1))


def _finite(scores: ArrayLike) -> np.ndarray:
    s = np.asarray(scores, dtype=float).ravel()
    s = s[np.isfinite(s)]
    if len(s) == 0:
        raise ValueError("cannot calibrate a threshold without finite baseline scores")
    return s
