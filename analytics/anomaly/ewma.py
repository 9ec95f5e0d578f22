"""Distance from an exponentially weighted mean, in exponentially weighted standard deviations."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from analytics.anomaly.streaming import StreamingDetector


class EwmaResidual(StreamingDetector):
    """|x − mean| / std with both tracked by EWMA of weight `alpha`; adapts to slow drift, flags jumps.

    >>> d = EwmaResidual(alpha=0.1, warmup=3)
    >>> for x in [10.0, 10.2, 9.8, 10.1, 9.9]:
    ...     d.learn_one(x)
    >>> d.score_one(10.0) < 1 < d.score_one(14.0)
    True
    """

    def __init__(self, alpha: float = 0.05, warmup: int = 10, min_scale: float = 1e-9) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.warmup = warmup
        self.min_scale = min_scale
        self.n_ = 0
        self.mean_ = 0.0
        self.var_ = 0.0

    def score_one(self, x: float) -> float:
        if x != x:  # NaN: a missing reading
            return self.missing_score
        if self.n_ < self.warmup or self.n_ == 0:
            return 0.0
        return abs(x - self.mean_) / max(math.sqrt(self.var_), self.min_scale)

    def learn_one(self, x: float) -> None:
        if x != x:
            return
        if self.n_ == 0:
            self.mean_, self.var_ = float(x), 0.0
        else:
            d = x - self.mean_
            self.mean_ += self.alpha * d
            self.var_ = (1 - self.alpha) * (self.var_ + self.alpha * d * d)
        self.n_ += 1

    def _score_learn_many(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros(len(x))
        if len(x) == 0:
            return out
        start = 0
        if self.n_ == 0:
            self.learn_one(float(x[0]))
            start = 1
        x = x[start:]
        if len(x) == 0:
            return out
        from scipy.signal import lfilter  # a second to import; only batches need it

        a = self.alpha
        means, _ = lfilter([a], [1, -(1 - a)], x, zi=[(1 - a) * self.mean_])
        prev_mean = np.concatenate(([self.mean_], means[:-1]))
        d = x - prev_mean
        variances, _ = lfilter([(1 - a) * a], [1, -(1 - a)], d * d, zi=[(1 - a) * self.var_])
        prev_var = np.concatenate(([self.var_], variances[:-1]))
        scores = np.abs(d) / np.maximum(np.sqrt(prev_var), self.min_scale)
        seen = self.n_ + np.arange(len(x))
        scores[seen < self.warmup] = 0.0
        out[start:] = scores
        self.mean_, self.var_, self.n_ = float(means[-1]), float(variances[-1]), self.n_ + len(x)
        return out
