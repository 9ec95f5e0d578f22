"""The streaming univariate contract, river-style: score a value against what was learned so far, then learn it.

`score_learn_many` is the fast path: it processes a block of values with numpy and leaves the detector in
exactly the state that calling `score_one` then `learn_one` on each value would, so a live stream can be
scored in micro-batches without per-sample Python overhead.

A missing reading (NaN) is neither judged nor learned: it scores `missing_score` and leaves the detector as it
was, so a sensor dropout cannot poison what the detector knows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import ArrayLike, NDArray


class StreamingDetector(ABC):
    """One signal in, one anomaly score out per value (higher = more anomalous, 0 = nothing to say yet)."""

    missing_score: float = 0.0

    @abstractmethod
    def learn_one(self, x: float) -> None:
        """Update the detector's picture of normal with `x`."""

    @abstractmethod
    def score_one(self, x: float) -> float:
        """Score `x` against what was learned; does not change the detector."""

    def score_learn_many(self, xs: ArrayLike) -> NDArray[np.float64]:
        """Score each value then learn it, in order."""
        values = np.asarray(xs, dtype=float).ravel()
        missing = np.isnan(values)
        if not missing.any():
            return self._score_learn_many(values)
        out = np.full(len(values), self.missing_score)
        out[~missing] = self._score_learn_many(values[~missing])  # NaNs change nothing, so skipping them is exact
        return out

    def _score_learn_many(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Subclasses vectorise this for values without NaN; the result must not differ from the loop."""
        out = np.empty(len(values))
        for i, x in enumerate(values):
            out[i] = self.score_one(float(x))
            self.learn_one(float(x))
        return out
