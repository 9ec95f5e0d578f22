"""Calibrated intervals for any point estimate of remaining useful life: split conformal, by difficulty.

A model's own uncertainty (a quantile regression, a trend's prediction band) under-covers when the model is wrong
in ways its fit cannot see. Conformal calibration sidesteps that: it learns the spread of the errors the model
actually made on lives it did not see (out-of-fold), and widens every later estimate by those errors. Errors
grow with the estimate (far from failure little is known), so the calibration is Mondrian: the estimates are
split into bins of similar size and each bin keeps its own lower and upper error quantiles (asymmetric: late and
early errors differ). Errors may be absolute or relative (`scale="ratio"`, (truth + c) / (estimate + c), for
lives whose length varies widely; c, a share `offset_share` of the median estimate, keeps estimates near zero
from making every ratio meaningless). `predict` gives the estimate moved by the median error: a trend that
fails early on every past life is corrected by as much.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator

SCALES = ("difference", "ratio")


def _conformal_quantile(errors: NDArray[np.float64], q: float) -> float:
    """The finite-sample conformal quantile: the ⌈q·(n+1)⌉-th smallest error (−inf/+inf beyond the sample)."""
    n = len(errors)
    k = math.ceil(q * (n + 1))
    if k > n:
        return math.inf
    if k < 1:
        return -math.inf
    return float(np.sort(errors)[k - 1])


class ConformalRul(BaseEstimator):
    """`fit(estimates, truths)` on out-of-sample estimates; `predict_interval(estimates)` gives (low, high).

    Each side holds (1 − level)/2 of the calibration errors, so the interval covers the truth `level` of the
    time for lives like the calibration's. `n_bins` bins of equal count over the estimates (fewer when there
    are not `min_per_bin` errors for each).

    >>> rng = np.random.default_rng(0)
    >>> truth = rng.uniform(0, 100, 2000)
    >>> estimate = truth + rng.normal(0, 1 + 0.1 * truth)  # errors grow with the RUL
    >>> cal = ConformalRul(level=0.9).fit(estimate[:1000], truth[:1000])
    >>> low, high = cal.predict_interval(estimate[1000:])
    >>> inside = (low <= truth[1000:]) & (truth[1000:] <= high)
    >>> bool(0.87 < inside.mean() < 0.93)
    True
    """

    def __init__(self, level: float = 0.9, n_bins: int = 4, min_per_bin: int = 30, scale: str = "difference",
                 offset_share: float = 0.0, floor: float = 0.0) -> None:
        self.level = level
        self.n_bins = n_bins
        self.min_per_bin = min_per_bin
        self.scale = scale
        self.offset_share = offset_share
        self.floor = floor

    def fit(self, estimates: ArrayLike, truths: ArrayLike) -> ConformalRul:
        if not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        e, t = self._pairs(estimates, truths)
        if len(e) < 2:
            raise ValueError(f"need at least 2 finite (estimate, truth) pairs to calibrate, got {len(e)}")
        self.offset_ = self.offset_share * float(np.median(np.abs(e))) if self.scale == "ratio" else 0.0
        if self.scale == "ratio" and not (e + self.offset_ > 0).all():
            raise ValueError("scale='ratio' needs positive estimates (or offset_share > 0 with estimates >= 0)")
        bins = max(1, min(self.n_bins, len(e) // max(self.min_per_bin, 1)))
        inner = np.quantile(e, np.linspace(0, 1, bins + 1)[1:-1]) if bins > 1 else np.empty(0)
        self.edges_ = np.unique(inner)
        which = np.searchsorted(self.edges_, e, side="right")
        err = self._errors(e, t)
        tail = (1 - self.level) / 2
        self.low_ = np.array([_conformal_quantile(err[which == b], tail) for b in range(len(self.edges_) + 1)])
        self.high_ = np.array([_conformal_quantile(err[which == b], 1 - tail) for b in range(len(self.edges_) + 1)])
        self.median_ = np.array([float(np.median(err[which == b])) for b in range(len(self.edges_) + 1)])
        self.n_calibration_ = len(e)
        return self

    def predict_interval(self, estimates: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        e = np.asarray(estimates, dtype=float).ravel()
        which = self._bins(e)
        low, high = self._apply(e, self.low_[which]), self._apply(e, self.high_[which])
        low = np.where(np.isnan(low), -np.inf, low)
        high = np.where(np.isnan(high), np.inf, high)
        return np.maximum(low, self.floor), np.maximum(high, self.floor)

    def predict(self, estimates: ArrayLike) -> NDArray[np.float64]:
        """The estimates corrected by the median calibration error of their range."""
        e = np.asarray(estimates, dtype=float).ravel()
        return np.maximum(self._apply(e, self.median_[self._bins(e)]), self.floor)

    def _bins(self, e: NDArray[np.float64]) -> NDArray[np.int64]:
        return np.searchsorted(self.edges_, np.nan_to_num(e, posinf=np.finfo(float).max), side="right")

    def _apply(self, e: NDArray[np.float64], err: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(invalid="ignore", over="ignore"):
            if self.scale == "ratio":
                return (e + self.offset_) * err - self.offset_
            return e + err

    def _errors(self, e: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        return (t + self.offset_) / (e + self.offset_) if self.scale == "ratio" else t - e

    def _pairs(self, estimates: ArrayLike, truths: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        e = np.asarray(estimates, dtype=float).ravel()
        t = np.asarray(truths, dtype=float).ravel()
        if e.shape != t.shape:
            raise ValueError(f"estimates {e.shape} and truths {t.shape} differ in shape")
        keep = np.isfinite(e) & np.isfinite(t)
        if self.scale == "ratio":
            keep &= e >= 0 if self.offset_share > 0 else e > 0
        return e[keep], t[keep]
