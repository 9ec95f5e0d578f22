"""RUL by trend extrapolation, its interval calibrated on the errors it made over past lives.

The fit's own prediction band (`remaining_useful_life`) assumes the trend model is right and its residuals are
independent; a wear indicator's residuals are neither, so the band is far too narrow (on the simulator's bearing
lives it held the truth a few percent of the time, not 90 %). `TrendRul` keeps the trend's point estimate and,
once it has seen lives end, replaces the band by conformal limits (`ConformalRul`, relative errors: the ratio of
the true RUL to the estimate, offset by half the median estimate), learned from (estimate, true RUL) pairs of
complete lives, and moves the estimate by the median error (a trend that called failure early on every past
life is corrected by as much). The bench scores each life with the other lives' pairs; the twin collects them
as its assets wear out. One range of estimates by default: with a handful of lives, finer ranges hold too few
lives each and under-cover (chosen on simulated lives other than those `bench faults` scores).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator

from analytics.maintenance.conformal import ConformalRul
from analytics.maintenance.rul import RulEstimate, remaining_useful_life


class TrendRul(BaseEstimator):
    """`fit(estimates, truths)` on past lives' pairs, then `predict(times, indicator)` gives a `RulEstimate`.

    Without `fit` (or with fewer than `min_pairs` finite pairs) the interval is the fit's own band, marked
    `calibrated=False`.

    >>> rng = np.random.default_rng(0)
    >>> past = rng.uniform(5, 50, 300)  # estimates made during past lives, and the truth: off by -30 % to +40 %
    >>> est = TrendRul(failure_threshold=100.0, model="linear").fit(past, past * rng.uniform(0.7, 1.4, 300))
    >>> r = est.predict(np.arange(0.0, 30.0), 40 + np.arange(0.0, 30.0))  # 31 left on the trend
    >>> r.calibrated, 0.6 * 31 < r.low < 0.8 * 31 < r.rul < 1.3 * 31 < r.high < 1.5 * 31
    (True, True)
    """

    def __init__(self, failure_threshold: float, model: str = "exponential", level: float = 0.9,
                 horizon: float | None = None, n_bins: int = 1, min_per_bin: int = 20, min_pairs: int = 20,
                 offset_share: float = 0.5) -> None:
        self.failure_threshold = failure_threshold
        self.model = model
        self.level = level
        self.horizon = horizon
        self.n_bins = n_bins
        self.min_per_bin = min_per_bin
        self.min_pairs = min_pairs
        self.offset_share = offset_share

    def fit(self, estimates: ArrayLike, truths: ArrayLike) -> TrendRul:
        """Calibrate on out-of-sample estimates made during past lives and the RUL each life really had left."""
        e = np.asarray(estimates, dtype=float).ravel()
        t = np.asarray(truths, dtype=float).ravel()
        ok = np.isfinite(e) & np.isfinite(t) & (e >= 0)
        self.n_pairs_ = int(ok.sum())
        self.calibration_: ConformalRul | None = None
        if self.n_pairs_ >= self.min_pairs:
            self.calibration_ = ConformalRul(level=self.level, n_bins=self.n_bins, min_per_bin=self.min_per_bin,
                                             scale="ratio", offset_share=self.offset_share).fit(e[ok], t[ok])
        return self

    def predict(self, times: ArrayLike, indicator: ArrayLike) -> RulEstimate:
        raw = remaining_useful_life(times, indicator, self.failure_threshold, model=self.model, level=self.level,
                                    horizon=self.horizon)
        return self.calibrate(raw)

    def calibrate(self, raw: RulEstimate) -> RulEstimate:
        """The estimate with its interval from the calibration (unchanged without one, or with no finite RUL)."""
        calibration = getattr(self, "calibration_", None)
        if calibration is None or not math.isfinite(raw.rul):
            return raw
        low, high = calibration.predict_interval([raw.rul])
        rul = float(np.clip(calibration.predict([raw.rul])[0], low[0], high[0]))
        return dataclasses.replace(raw, rul=rul, low=float(low[0]), high=float(high[0]), calibrated=True)
