"""Confidence intervals over independent replications (Student t), the tolerance every comparison uses."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Two-sided 95 % quantiles of Student's t by degrees of freedom; beyond 30 the normal quantile's
# error is below 2 %, and we interpolate in 1/df, which is accurate to the third decimal.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(df: int) -> float:
    """
    >>> t95(9), t95(1000) < 1.97
    (2.262, True)
    """
    if df in _T95:
        return _T95[df]
    keys = sorted(_T95)
    if df > keys[-1]:
        return 1.960 + (1.980 - 1.960) * 120 / df
    hi = next(k for k in keys if k > df)
    lo = max(k for k in keys if k < df)
    w = (1 / df - 1 / hi) / (1 / lo - 1 / hi)
    return _T95[hi] + w * (_T95[lo] - _T95[hi])


def mean_ci(values: Sequence[float]) -> dict[str, float | list[float]]:
    """Mean and 95 % confidence interval of the mean; a single value has a zero-width interval.

    >>> mean_ci([1.0, 2.0, 3.0])
    {'mean': 2.0, 'ci95': [-0.484338208323, 4.484338208323]}
    """
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"mean": mean, "ci95": [mean, mean]}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t95(n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "ci95": [round(mean - half, 12), round(mean + half, 12)]}


def within(value: float, estimate: dict[str, float | list[float]]) -> bool:
    low, high = estimate["ci95"]  # type: ignore[misc]
    return bool(low <= value <= high)
