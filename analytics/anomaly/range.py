"""Out of range: outside the physical or rated limits of a signal, whatever its history."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from analytics.anomaly.streaming import StreamingDetector


class OutOfRange(StreamingDetector):
    """Distance outside [low, high] in units of the range's width (of 1 when a side is open); NaN scores inf.

    >>> d = OutOfRange(low=0.0, high=100.0)
    >>> d.score_one(50.0), d.score_one(120.0), d.score_one(-10.0)
    (0.0, 0.2, 0.1)
    """

    missing_score = math.inf  # an absent reading is out of any range: this detector is the one that says so

    def __init__(self, low: float = -math.inf, high: float = math.inf) -> None:
        if not low < high:
            raise ValueError(f"need low < high, got {low}, {high}")
        self.low = low
        self.high = high

    def _scale(self) -> float:
        width = self.high - self.low
        return width if math.isfinite(width) else 1.0

    def score_one(self, x: float) -> float:
        if math.isnan(x):
            return math.inf
        return max(self.low - x, x - self.high, 0.0) / self._scale()

    def learn_one(self, x: float) -> None:
        """Limits are given, not learned: nothing to do."""

    def _score_learn_many(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.maximum(np.maximum(self.low - x, x - self.high), 0.0) / self._scale()
        return np.where(np.isnan(x), np.inf, out)
