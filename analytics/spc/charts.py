"""Shewhart, EWMA and CUSUM control charts (Montgomery, Introduction to Statistical Quality Control).

Constants come from the distribution of the range and of the standard deviation of normal samples:
d2 and d3 from the standard tables, c4 exactly from the gamma function.

>>> c = imr([10.0, 10.2, 9.9, 10.1, 10.0])
>>> round(c.center, 2), round(c.ucl, 3), round(c.lcl, 3)
(10.04, 10.572, 9.508)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: d2 and d3 for subgroup sizes 2..25 (ASTM E2587 / Montgomery, Appendix VI)
D2 = dict(zip(range(2, 26), (1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078, 3.173, 3.258, 3.336,
                             3.407, 3.472, 3.532, 3.588, 3.640, 3.689, 3.735, 3.778, 3.819, 3.858, 3.895, 3.931),
              strict=True))
D3 = dict(zip(range(2, 26), (0.853, 0.888, 0.880, 0.864, 0.848, 0.833, 0.820, 0.808, 0.797, 0.787, 0.778, 0.770,
                             0.763, 0.756, 0.750, 0.744, 0.739, 0.734, 0.729, 0.724, 0.720, 0.716, 0.712, 0.708),
              strict=True))


def c4(n: int) -> float:
    return math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


@dataclass(frozen=True, slots=True)
class ControlChart:
    """Plotted points with their centre line and limits (limits may vary per point, as EWMA's do)."""

    name: str
    points: np.ndarray
    center: float
    ucl: float | np.ndarray
    lcl: float | np.ndarray
    sigma: float  # of the plotted statistic's process, for the run rules
    companion: ControlChart | None = None  # the R, S or MR chart beside an X chart

    def out_of_control(self) -> np.ndarray:
        return np.flatnonzero((self.points > self.ucl) | (self.points < self.lcl))


def _subgroups(data: Sequence[Sequence[float]]) -> np.ndarray:
    a = np.asarray(data, dtype=float)
    if a.ndim != 2 or not 2 <= a.shape[1] <= 25:
        raise ValueError("subgroups must be a 2-D array with 2 to 25 measurements per subgroup")
    return a


def xbar_r(subgroups: Sequence[Sequence[float]]) -> ControlChart:
    a = _subgroups(subgroups)
    n = a.shape[1]
    means, ranges = a.mean(axis=1), np.ptp(a, axis=1)
    xbb, rbar = float(means.mean()), float(ranges.mean())
    sigma = rbar / D2[n]
    k = 3 * D3[n] / D2[n]
    r = ControlChart("R", ranges, rbar, (1 + k) * rbar, max(0.0, 1 - k) * rbar, D3[n] * sigma)
    return ControlChart("X̄", means, xbb, xbb + 3 * sigma / math.sqrt(n), xbb - 3 * sigma / math.sqrt(n),
                        sigma / math.sqrt(n), r)


def xbar_s(subgroups: Sequence[Sequence[float]]) -> ControlChart:
    a = _subgroups(subgroups)
    n = a.shape[1]
    means, sds = a.mean(axis=1), a.std(axis=1, ddof=1)
    xbb, sbar = float(means.mean()), float(sds.mean())
    cn = c4(n)
    sigma = sbar / cn
    k = 3 * math.sqrt(1 - cn * cn) / cn
    s = ControlChart("S", sds, sbar, (1 + k) * sbar, max(0.0, 1 - k) * sbar, sigma * math.sqrt(1 - cn * cn))
    return ControlChart("X̄", means, xbb, xbb + 3 * sigma / math.sqrt(n), xbb - 3 * sigma / math.sqrt(n),
                        sigma / math.sqrt(n), s)


def imr(x: Sequence[float]) -> ControlChart:
    """Individuals and moving range: for one measurement per part, as an inspection station gives."""
    a = np.asarray(x, dtype=float)
    if a.size < 2:
        raise ValueError("an I-MR chart needs at least 2 measurements")
    mr = np.abs(np.diff(a))
    mrbar = float(mr.mean())
    sigma = mrbar / D2[2]
    center = float(a.mean())
    k = 3 * D3[2] / D2[2]
    mr_chart = ControlChart("MR", mr, mrbar, (1 + k) * mrbar, 0.0, D3[2] * sigma)
    return ControlChart("I", a, center, center + 3 * sigma, center - 3 * sigma, sigma, mr_chart)


def ewma(x: Sequence[float], target: float, sigma: float, lam: float = 0.2, width: float = 3.0) -> ControlChart:
    """EWMA with exact time-varying limits; sensitive to small sustained shifts."""
    a = np.asarray(x, dtype=float)
    z = np.empty_like(a)
    prev = target
    for i, v in enumerate(a):
        prev = lam * v + (1 - lam) * prev
        z[i] = prev
    n = np.arange(1, a.size + 1)
    half = width * sigma * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * n)))
    return ControlChart("EWMA", z, target, target + half, target - half, sigma * math.sqrt(lam / (2 - lam)))


def cusum(x: Sequence[float], target: float, sigma: float, k: float = 0.5, h: float = 5.0) -> ControlChart:
    """Tabular CUSUM: points are C+ (and the companion C−); a signal is a sum above h·σ."""
    a = np.asarray(x, dtype=float)
    hi, lo = np.empty_like(a), np.empty_like(a)
    cp = cm = 0.0
    for i, v in enumerate(a):
        cp = max(0.0, v - (target + k * sigma) + cp)
        cm = max(0.0, (target - k * sigma) - v + cm)
        hi[i], lo[i] = cp, cm
    lower = ControlChart("CUSUM−", lo, 0.0, h * sigma, -np.inf, sigma)
    return ControlChart("CUSUM+", hi, 0.0, h * sigma, -np.inf, sigma, lower)
