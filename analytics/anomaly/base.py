"""What every multivariate detector shares: scikit-learn's estimator conventions plus named signals,
a threshold calibrated on the healthy baseline, and alarms that name their signals.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from analytics.anomaly.alarm import Alarm, explain
from analytics.anomaly.calibration import QuantileThreshold, ThresholdRule
from analytics.anomaly.signals import MissingPolicy, Signals, impute_nan, signal_names, to_matrix


class MultivariateDetector(BaseEstimator):
    """Subclasses implement `_fit(matrix)` (returning the baseline's scores) and `_score(matrix)`.

    `score_samples` is higher for more anomalous rows (unlike scikit-learn's outlier detectors, so that every
    detector in factory-twin reads the same way); `predict` is 1 for an anomaly, 0 for normal.
    """

    threshold: ThresholdRule | None
    missing: str

    def fit(self, X: Signals, y: object = None) -> MultivariateDetector:
        self.signal_names_ = signal_names(X)
        matrix = to_matrix(X, self.signal_names_)
        if len(matrix) < 2 or not np.isfinite(matrix).all():
            raise ValueError(f"need at least 2 rows of finite values to fit, got shape {matrix.shape}")
        self.n_features_in_ = matrix.shape[1]
        self.center_ = matrix.mean(axis=0)
        self.baseline_scores_ = self._fit(matrix)
        rule = self.threshold or QuantileThreshold()
        self.threshold_ = rule(self.baseline_scores_)
        return self

    def _matrix(self, X: Signals) -> NDArray[np.float64]:
        if not hasattr(self, "signal_names_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit on a healthy baseline first")
        m = to_matrix(X, self.signal_names_, self.center_, self.missing)
        return impute_nan(m, self.center_, self.missing, self.signal_names_)

    def score_samples(self, X: Signals) -> NDArray[np.float64]:
        return self._score(self._matrix(X))

    def predict(self, X: Signals) -> NDArray[np.int64]:
        return (self.score_samples(X) > self.threshold_).astype(np.int64)

    def contributions(self, X: Signals) -> NDArray[np.float64]:
        """Each signal's part of each row's score (rows × signals); larger = more to blame."""
        return self._contributions(self._matrix(X))

    def alarms(self, X: Signals) -> list[tuple[int, Alarm]]:
        """(row, Alarm) for every row over the threshold."""
        matrix = self._matrix(X)
        scores = self._score(matrix)
        rows = np.nonzero(scores > self.threshold_)[0]
        if len(rows) == 0:
            return []
        contrib = self._contributions(matrix)
        return [(int(i), explain(scores[i], self.threshold_, self.signal_names_, contrib[i])) for i in rows]

    @abstractmethod
    def _fit(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]: ...

    @abstractmethod
    def _score(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]: ...

    @abstractmethod
    def _contributions(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]: ...


DEFAULT_MISSING = MissingPolicy.RAISE.value
