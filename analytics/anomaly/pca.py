"""PCA process monitoring: Hotelling's T² inside the principal subspace and Q (squared prediction error) off it.

T² flags rows that are unusual along directions seen in the baseline; Q flags rows that break the baseline's
correlations. Jackson & Mudholkar (1979); MacGregor & Kourti (1995).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.decomposition import PCA

from analytics.anomaly.base import DEFAULT_MISSING, MultivariateDetector
from analytics.anomaly.calibration import QuantileThreshold, ThresholdRule

STATISTICS = ("t2", "q", "t2+q")


class PcaMonitor(MultivariateDetector):
    """Score = T², Q, or for "t2+q" the larger of each over its own healthy limit.

    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(size=(500, 2)) @ [[1.0, 1.0], [0.0, 0.1]]
    >>> m = PcaMonitor(n_components=1).fit(base)
    >>> m.predict([[1.0, 1.0], [1.0, -1.0]]).tolist()
    [0, 1]
    """

    def __init__(self, n_components: int | float = 0.9, statistic: str = "t2+q",
                 threshold: ThresholdRule | None = None, missing: str = DEFAULT_MISSING) -> None:
        self.n_components = n_components
        self.statistic = statistic
        self.threshold = threshold
        self.missing = missing

    def _fit(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {self.statistic!r}")
        self.mean_ = matrix.mean(axis=0)
        self.scale_ = np.where(matrix.std(axis=0) > 1e-12, matrix.std(axis=0), 1.0)
        z = (matrix - self.mean_) / self.scale_
        self.pca_ = PCA(n_components=self.n_components, svd_solver="full").fit(z)
        self.eigenvalues_ = np.maximum(self.pca_.explained_variance_, 1e-12)
        t2, q = self._statistics(z)
        limit = QuantileThreshold(q=0.99)
        self.t2_limit_ = max(limit(t2), 1e-12)
        self.q_limit_ = max(limit(q), 1e-12)
        return self._combine(t2, q)

    def _statistics(self, z: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        scores = (z - self.pca_.mean_) @ self.pca_.components_.T
        t2 = np.sum(scores**2 / self.eigenvalues_, axis=1)
        residual = z - self.pca_.mean_ - scores @ self.pca_.components_
        return t2, np.sum(residual**2, axis=1)

    def _combine(self, t2: NDArray[np.float64], q: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.statistic == "t2":
            return t2
        if self.statistic == "q":
            return q
        return np.maximum(t2 / self.t2_limit_, q / self.q_limit_)

    def _score(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._combine(*self._statistics((matrix - self.mean_) / self.scale_))

    def _contributions(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        z = (matrix - self.mean_) / self.scale_ - self.pca_.mean_
        p = self.pca_.components_
        scores = z @ p.T
        t2_part = np.abs(z * ((scores / self.eigenvalues_) @ p))  # sums to T² before the abs
        q_part = (z - scores @ p) ** 2  # sums to Q
        if self.statistic == "t2":
            return t2_part
        if self.statistic == "q":
            return q_part
        return t2_part / self.t2_limit_ + q_part / self.q_limit_
