"""MEWMA: the multivariate EWMA control chart (Lowry et al., 1992), an online detector for a whole asset.

Each row is standardised against the healthy baseline, smoothed by an EWMA of weight `alpha` (which averages
noise away and lets small persistent shifts build up), and scored by its Mahalanobis distance (T²) from the
baseline's smoothed mean, with the smoothed covariance measured on the baseline rather than assumed.
Signals listed in `rate_signals` enter as their step from the previous row, not their level: slow thermal
signals drift over hours in healthy operation, and their level would alarm on the drift. Signals listed in
`context_signals` are not monitored but explain the others: each monitored level signal enters as what is left
after a linear fit on them over the baseline (a tool's wear raises load, power and vibration as it should; the chart
then watches for what the wear does not explain).
`level_tolerance` widens the chart for slow wander of the level signals that a short baseline cannot show: a
persistent shift of that share of a signal's baseline level counts as one standard deviation of the chart (a
vibration RMS whose baseline spread is 1 % of its level still moves by a few % between healthy runs).
`tolerances` does the same in a signal's own units, per signal (a thermal residual that wanders by a tenth of a
degree as the line's pattern of stops changes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from analytics.anomaly.base import DEFAULT_MISSING, MultivariateDetector
from analytics.anomaly.calibration import ThresholdRule
from analytics.anomaly.signals import Signals


class Mewma(MultivariateDetector):
    """`score_samples` charts a batch from the in-control state; `update` continues the live chart (online).

    >>> rng = np.random.default_rng(1)
    >>> chart = Mewma(alpha=0.2).fit(rng.normal(size=(400, 3)))
    >>> shifted = rng.normal(size=(50, 3)) + [0.0, 2.0, 0.0]
    >>> bool(chart.update(shifted)[-1] > chart.threshold_)
    True
    >>> chart.alarms(shifted)[-1][1].top(1)
    ('x1',)
    """

    def __init__(self, alpha: float = 0.2, rate_signals: Sequence[str] = (), burn_in: int = 50,
                 ridge: float = 1e-6, threshold: ThresholdRule | None = None,
                 missing: str = DEFAULT_MISSING, level_tolerance: float = 0.0,
                 context_signals: Sequence[str] = (), tolerances: dict[str, float] | None = None) -> None:
        self.alpha = alpha
        self.rate_signals = rate_signals
        self.level_tolerance = level_tolerance
        self.tolerances = tolerances
        self.context_signals = context_signals
        self.burn_in = burn_in
        self.ridge = ridge
        self.threshold = threshold
        self.missing = missing

    def _features(self, matrix: NDArray[np.float64], previous: NDArray[np.float64]) -> NDArray[np.float64]:
        f = matrix.copy()
        if self.rate_columns_.any():
            rate = self.rate_columns_
            f[:, rate] = np.diff(np.vstack((previous[None, rate], matrix[:, rate])), axis=0)
        ctx = getattr(self, "context_columns_", None)
        if ctx is not None and ctx.any():
            f = f - self._context_design(matrix) @ self.context_coef_
            f[:, ctx] = 0.0  # explains the others; not watched itself
        return (f - self.feature_mean_) / self.feature_scale_

    def _context_design(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.hstack((np.ones((len(matrix), 1)), matrix[:, self.context_columns_]))

    def _chart(self, features: NDArray[np.float64], start: NDArray[np.float64]) -> NDArray[np.float64]:
        a = self.alpha
        z, _ = lfilter([a], [1.0, -(1.0 - a)], features, axis=0, zi=((1.0 - a) * start)[None, :])
        return z

    def _fit(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        for name, listed in (("rate_signals", self.rate_signals), ("context_signals", self.context_signals)):
            unknown = set(listed) - set(self.signal_names_)
            if unknown:
                raise ValueError(f"{name} {sorted(unknown)} are not among the signals {list(self.signal_names_)}")
        self.rate_columns_ = np.array([n in set(self.rate_signals) for n in self.signal_names_])
        self.context_columns_ = np.array([n in set(self.context_signals) for n in self.signal_names_])
        if self.context_columns_.all():
            raise ValueError("every signal is a context signal: nothing is left to watch")
        self.feature_mean_ = np.zeros(matrix.shape[1])
        self.feature_scale_ = np.ones(matrix.shape[1])
        self.context_coef_: np.ndarray = np.zeros((int(self.context_columns_.sum()) + 1, matrix.shape[1]))
        if self.context_columns_.any():
            plain = self._features(matrix, matrix[0])  # with no context fitted yet: the signals as they are
            coef, *_ = np.linalg.lstsq(self._context_design(matrix), plain, rcond=None)
            coef[:, self.context_columns_ | self.rate_columns_] = 0.0  # a level explains levels, not steps
            self.context_coef_ = coef
        raw = self._features(matrix, matrix[0])
        self.feature_mean_ = raw.mean(axis=0)
        std = raw.std(axis=0)
        self.feature_scale_ = np.where(std > 1e-12, std, 1.0)
        f = (raw - self.feature_mean_) / self.feature_scale_
        z = self._chart(f, np.zeros(matrix.shape[1]))
        burn = min(self.burn_in, len(matrix) // 4)
        settled = z[burn:]
        self.chart_mean_ = settled.mean(axis=0)
        cov = np.atleast_2d(np.cov(settled, rowvar=False)) + self.ridge * np.eye(matrix.shape[1])
        if self.level_tolerance < 0:
            raise ValueError(f"level_tolerance must be >= 0, got {self.level_tolerance}")
        if self.level_tolerance > 0:
            level = np.abs(matrix.mean(axis=0)) * ~(self.rate_columns_ | self.context_columns_)
            cov += np.diag((self.level_tolerance * level / self.feature_scale_) ** 2)
        if self.tolerances:
            absolute = np.array([self.tolerances.get(n, 0.0) for n in self.signal_names_])
            if (absolute < 0).any():
                raise ValueError(f"tolerances must be >= 0, got {self.tolerances}")
            cov += np.diag((absolute / self.feature_scale_) ** 2)
        self.precision_ = np.linalg.pinv(cov)
        eigenvalues, vectors = np.linalg.eigh(self.precision_)
        self.whitener_ = np.sqrt(np.maximum(eigenvalues, 0.0))[:, None] * vectors.T  # T² = |whitener_ · d|²
        self.rate_mask_ = self.rate_columns_.astype(float)
        self.inverse_scale_ = 1.0 / self.feature_scale_
        self.state_ = z[-1].copy()
        self.previous_row_ = matrix[-1].copy()
        return self._t2(settled - self.chart_mean_)

    def _t2(self, deviation: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.einsum("ij,jk,ik->i", deviation, self.precision_, deviation)

    def _deviation(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        if len(matrix) == 0:
            return np.empty((0, self.n_features_in_))
        return self._chart(self._features(matrix, matrix[0]), self.chart_mean_) - self.chart_mean_

    def _score(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._t2(self._deviation(matrix))

    def _contributions(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        d = self._deviation(matrix)
        return np.abs(d * (d @ self.precision_))  # the terms of T², before the abs

    def _advance(self, X: Signals) -> NDArray[np.float64]:
        matrix = self._matrix(X)
        if len(matrix) == 0:
            return np.empty((0, self.n_features_in_))
        z = self._chart(self._features(matrix, self.previous_row_), self.state_)
        self.state_ = z[-1].copy()
        self.previous_row_ = matrix[-1].copy()
        return z - self.chart_mean_

    def update(self, X: Signals) -> NDArray[np.float64]:
        """Continue the live chart over new rows and return their scores; the same whether rows come one at a
        time or in blocks. Starts where `fit` (or the previous `update`) left off."""
        return self._t2(self._advance(X))

    def update_explained(self, X: Signals) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """`update`, plus each signal's part of each score (rows × signals) for naming what drove an alarm."""
        d = self._advance(X)
        return self._t2(d), np.abs(d * (d @ self.precision_))

    def restart(self, row: NDArray[np.float64], afresh: bool = False) -> None:
        """Continue the chart after a gap (the machine stood still): the next steps of rate signals are measured
        from `row`, not from before the gap; `afresh` also forgets the smoothed history (after a repair, what
        the chart had built up before it says nothing about the machine now)."""
        self.previous_row_ = np.asarray(row, dtype=float).copy()
        if afresh:
            self.state_ = self.chart_mean_.copy()

    def update_one(self, row: NDArray[np.float64]) -> float:
        """`update` for one row given as an array in `signal_names_` order: no name lookup, no batch set-up,
        for callers that already hold rows that way (the per-sample hot path)."""
        x = np.asarray(row, dtype=float)
        if (x.shape != (self.n_features_in_,) or not math.isfinite(x.dot(x))
                or getattr(self, "context_columns_", np.zeros(1, bool)).any()):
            return float(self.update(x.reshape(1, -1))[0])  # the checked path: imputes, names the problem, context
        f = (x - self.previous_row_ * self.rate_mask_ - self.feature_mean_) * self.inverse_scale_
        self.state_ = self.state_ * (1.0 - self.alpha) + f * self.alpha
        self.previous_row_ = x
        v = self.whitener_.dot(self.state_ - self.chart_mean_)
        return float(v.dot(v))
