"""Stuck value: a live sensor never repeats itself exactly for long; a frozen one (or a frozen gateway) does."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from analytics.anomaly.streaming import StreamingDetector


class StuckValue(StreamingDetector):
    """Repeats of the previous value (within `tolerance`) / `patience`: 1.0 means stuck for `patience` samples.

    >>> d = StuckValue(patience=3)
    >>> for x in [5.0, 5.0, 5.0]:
    ...     d.learn_one(x)
    >>> d.score_one(5.0), d.score_one(5.1)
    (1.0, 0.0)
    """

    def __init__(self, patience: int = 30, tolerance: float = 0.0) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = patience
        self.tolerance = tolerance
        self.previous_: float | None = None
        self.repeats_ = 0

    def score_one(self, x: float) -> float:
        if x != x:  # NaN: a missing reading
            return self.missing_score
        if self.previous_ is None or abs(x - self.previous_) > self.tolerance:
            return 0.0
        return (self.repeats_ + 1) / self.patience

    def learn_one(self, x: float) -> None:
        if x != x:
            return
        if self.previous_ is not None and abs(x - self.previous_) <= self.tolerance:
            self.repeats_ += 1
        else:
            self.repeats_ = 0
        self.previous_ = float(x)

    def _score_learn_many(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if len(x) == 0:
            return np.zeros(0)
        prev = np.concatenate(([np.nan if self.previous_ is None else self.previous_], x[:-1]))
        same = np.abs(x - prev) <= self.tolerance  # NaN compares False: the first value ever is never a repeat
        # run length of consecutive `same`, continuing the run carried in from before this block
        idx = np.arange(len(x))
        last_break = np.maximum.accumulate(np.where(same, -1, idx))
        run = np.where(last_break >= 0, idx - last_break, idx + 1 + self.repeats_)
        run = np.where(same, run, 0)
        self.repeats_ = int(run[-1])
        self.previous_ = float(x[-1])
        return run / self.patience
