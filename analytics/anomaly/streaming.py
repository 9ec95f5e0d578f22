"""The streaming univariate contract, river-style: score a value against what was learned so far, then learn it.

`score_learn_many` is the fast path: it processes a block of values with numpy and leaves the detector in
exactly the state that calling `score_one` then `learn_one` on each value would, so a live stream can be
scored in micro-batches without per-sample Python overhead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import ArrayLike, NDArray


class StreamingDetector(ABC):
    """One signal in, one anomaly score out per value (higher = more anomalous, 0 = nothing to say yet)."""

    @abstractmethod
    def learn_one(self, x: float) -> None:
        """Update the detector's picture of normal with `x`."""

    @abstractmethod
    def score_one(self, x: float) -> float:
        """Score `x` against what was learned; does not change the detector."""

    def score_learn_many(self, xs: ArrayLike) -> NDArray[np.float64]:
        """Score each value then learn it, in order. Subclasses vectorise this; the result must not differ."""
        values = np.asarray(xs, dtype=float).ravel()
        out = np.empty(len(values))
        for i, x in enumerate(values):
            out[i] = self.score_one(float(x))
            self.learn_one(float(x))
        return out
