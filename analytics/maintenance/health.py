"""A health indicator: how far an asset's signals have moved from its healthy baseline, as one number.

The Mahalanobis distance from the baseline (standardised by the baseline's own spread and correlations),
divided by its healthy median so that a healthy asset reads about 1 and the number grows as it degrades.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from analytics.anomaly.signals import Signals, signal_names, to_matrix


class HealthIndicator(BaseEstimator):
    """`fit` on a healthy baseline, `transform` rows into indicator values (≈1 healthy, rising with wear).

    >>> rng = np.random.default_rng(0)
    >>> hi = HealthIndicator().fit(rng.normal(size=(500, 3)))
    >>> healthy, worn = hi.transform(np.array([[0.1, -0.2, 0.3], [4.0, 0.0, 0.0]]))
    >>> bool(healthy < 2 < worn)
    True
    """

    def __init__(self, ridge: float = 1e-6) -> None:
        self.ridge = ridge

    def fit(self, X: Signals, y: object = None) -> HealthIndicator:
        self.signal_names_ = signal_names(X)
        m = to_matrix(X, self.signal_names_)
        self.mean_ = m.mean(axis=0)
        std = m.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        z = (m - self.mean_) / self.scale_
        cov = np.atleast_2d(np.cov(z, rowvar=False)) + self.ridge * np.eye(m.shape[1])
        self.precision_ = np.linalg.pinv(cov)
        self.healthy_median_ = 1.0
        self.healthy_median_ = float(np.median(self.transform(X)))
        return self

    def transform(self, X: Signals) -> NDArray[np.float64]:
        z = (to_matrix(X, self.signal_names_) - self.mean_) / self.scale_
        d = np.sqrt(np.einsum("ij,jk,ik->i", z, self.precision_, z))
        return d / self.healthy_median_
