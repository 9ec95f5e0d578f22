"""Isolation forest (Liu et al., 2008): anomalies are the rows that random splits isolate quickly."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest

from analytics.anomaly.base import DEFAULT_MISSING, MultivariateDetector
from analytics.anomaly.calibration import ThresholdRule


class IsolationForestDetector(MultivariateDetector):
    """scikit-learn's IsolationForest, scores negated (higher = more anomalous), threshold from the baseline.

    Contributions are each signal's standardised distance from the baseline mean: the forest itself does not
    say which split isolated a row.
    """

    def __init__(self, n_estimators: int = 100, max_samples: int | str = "auto", random_state: int | None = 0,
                 threshold: ThresholdRule | None = None, missing: str = DEFAULT_MISSING) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.threshold = threshold
        self.missing = missing

    def _fit(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        self.scale_ = np.where(matrix.std(axis=0) > 1e-12, matrix.std(axis=0), 1.0)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                       random_state=self.random_state).fit(matrix)
        return -self.forest_.score_samples(matrix)

    def _score(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        return -self.forest_.score_samples(matrix)

    def _contributions(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.abs((matrix - self.center_) / self.scale_)
