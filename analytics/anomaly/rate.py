"""Rate of change: a step between consecutive values, in units of the usual step size."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from analytics.anomaly.streaming import StreamingDetector


class RateOfChange(StreamingDetector):
    """|x − previous| / EWMA of |step|; catches jumps and spikes that stay inside the normal range.

    >>> d = RateOfChange(alpha=0.5, warmup=2)
    >>> for x in [1.0, 2.0, 3.0, 4.0]:
    ...     d.learn_one(x)
    >>> d.score_one(5.0), d.score_one(14.0)
    (1.0, 10.0)
    """

    def __init__(self, alpha: float = 0.05, warmup: int = 10, min_scale: float = 1e-9) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.warmup = warmup
        self.min_scale = min_scale
        self.n_ = 0  # values learned
        self.previous_ = 0.0
        self.scale_ = 0.0

    def score_one(self, x: float) -> float:
        if x != x:  # NaN: a missing reading
            return self.missing_score
        if self.n_ < max(self.warmup, 2):
            return 0.0
        return abs(x - self.previous_) / max(self.scale_, self.min_scale)

    def learn_one(self, x: float) -> None:
        if x != x:
            return
        if self.n_ == 1:
            self.scale_ = abs(x - self.previous_)
        elif self.n_ > 1:
            self.scale_ += self.alpha * (abs(x - self.previous_) - self.scale_)
        self.previous_ = float(x)
        self.n_ += 1

    def _score_learn_many(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros(len(x))
        i = 0
        while i < len(x) and self.n_ < 2:
            out[i] = self.score_one(float(x[i]))
            self.learn_one(float(x[i]))
            i += 1
        if i == len(x):
            return out
        rest = x[i:]
        steps = np.abs(np.diff(np.concatenate(([self.previous_], rest))))
        a = self.alpha
        scales, _ = lfilter([a], [1, -(1 - a)], steps, zi=[(1 - a) * self.scale_])
        prev_scale = np.concatenate(([self.scale_], scales[:-1]))
        scores = steps / np.maximum(prev_scale, self.min_scale)
        scores[self.n_ + np.arange(len(rest)) < max(self.warmup, 2)] = 0.0
        out[i:] = scores
        self.previous_, self.scale_, self.n_ = float(rest[-1]), float(scales[-1]), self.n_ + len(rest)
        return out
