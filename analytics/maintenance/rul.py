"""Remaining useful life: fit the degradation trend of a health indicator and extrapolate it to the failure
threshold, with an interval from the fit's own uncertainty.

Two trend models, fitted by least squares over the indicator since degradation began: "linear"
(h = a + b·t) and "exponential" (log h = a + b·t, the usual shape of wear-out, e.g. bearing spall growth).
The interval is where the prediction band at `level` crosses the threshold (inverse prediction): the upper
band crosses first and gives the short end, the lower band the long end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import t as student_t

MODELS = ("linear", "exponential")


@dataclass(frozen=True, slots=True)
class RulEstimate:
    """RUL in the time unit of the input, from `at` (the last time fitted); `inf` when no crossing is in sight."""

    at: float
    rul: float
    low: float
    high: float
    level: float
    model: str
    slope: float
    calibrated: bool = False  # the interval comes from errors on past lives, not from the fit's own band


@dataclass(frozen=True, slots=True)
class MaintenanceAlert:
    asset: str
    rul: float
    low: float
    horizon: float


def remaining_useful_life(times: ArrayLike, indicator: ArrayLike, failure_threshold: float,
                          model: str = "exponential", level: float = 0.9, horizon: float | None = None,
                          ) -> RulEstimate:
    """Fit the trend of `indicator` over `times` and extrapolate it to `failure_threshold`.

    >>> t = np.arange(0.0, 50.0)
    >>> r = remaining_useful_life(t, 1.0 + 0.1 * t, failure_threshold=10.0, model="linear")
    >>> round(r.rul, 3)
    41.0
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    t = np.asarray(times, dtype=float).ravel()
    h = np.asarray(indicator, dtype=float).ravel()
    keep = np.isfinite(t) & np.isfinite(h)
    if model == "exponential":
        keep &= h > 0
    t, h = t[keep], h[keep]
    if len(t) < 3:
        raise ValueError(f"need at least 3 finite points to fit a trend, got {len(t)}")
    y = np.log(h) if model == "exponential" else h
    target = math.log(failure_threshold) if model == "exponential" else failure_threshold

    n = len(t)
    t_mean = t.mean()
    sxx = float(np.sum((t - t_mean) ** 2))
    slope = float(np.sum((t - t_mean) * (y - y.mean())) / sxx) if sxx > 0 else 0.0
    intercept = float(y.mean() - slope * t_mean)
    resid = y - (intercept + slope * t)
    s = math.sqrt(float(np.sum(resid**2)) / (n - 2)) if n > 2 else 0.0
    q = float(student_t.ppf(0.5 + level / 2, n - 2))
    now = float(t[-1])
    span = horizon if horizon is not None else max(10 * (now - float(t[0])), 1.0)
    future = now + np.linspace(0.0, span, 4001)
    mean = intercept + slope * future
    half = q * s * np.sqrt(1 + 1 / n + (future - t_mean) ** 2 / sxx) if sxx > 0 else np.zeros_like(future)

    def first_crossing(curve: np.ndarray) -> float:
        hit = np.nonzero(curve >= target)[0]
        return float(future[hit[0]] - now) if len(hit) else math.inf

    if slope > 0:
        exact = (target - intercept) / slope - now  # the mean trend's crossing, not limited to the grid
        rul = max(exact, 0.0) if horizon is None or exact <= horizon else math.inf
    else:
        rul = math.inf
    return RulEstimate(at=now, rul=rul, low=first_crossing(mean + half), high=first_crossing(mean - half),
                       level=level, model=model, slope=slope)


def maintenance_alert(asset: str, estimate: RulEstimate, horizon: float) -> MaintenanceAlert | None:
    """An alert when the short end of the RUL interval falls within the maintenance horizon."""
    if estimate.low <= horizon:
        return MaintenanceAlert(asset=asset, rul=estimate.rul, low=estimate.low, horizon=horizon)
    return None
