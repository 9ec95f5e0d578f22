"""Robust z-score: distance from the median of a rolling window, in MADs; one outlier cannot mask the next."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from analytics.anomaly.streaming import StreamingDetector

#: MAD × 1.4826 estimates the standard deviation of normally distributed data; when over half the window is one
#: value (MAD = 0, common for quantised sensors) the mean absolute deviation × 1.2533 stands in (Iglewicz & Hoaglin).
MAD_TO_SIGMA = 1.4826
MEANAD_TO_SIGMA = 1.2533


class RollingRobustZ(StreamingDetector):
    """|x − median| / (1.4826 · MAD) over the last `window` learned values.

    >>> d = RollingRobustZ(window=5, min_samples=5)
    >>> for x in [1.0, 2.0, 3.0, 2.0, 1.0]:
    ...     d.learn_one(x)
    >>> round(d.score_one(10.0), 2)
    5.4
    """

    def __init__(self, window: int = 60, min_samples: int = 10, min_scale: float = 1e-9) -> None:
        if window < 2 or not 1 <= min_samples <= window:
            raise ValueError(f"need window >= 2 and 1 <= min_samples <= window, got {window}, {min_samples}")
        self.window = window
        self.min_samples = min_samples
        self.min_scale = min_scale
        self.buffer_: deque[float] = deque(maxlen=window)  # arrival order, to know what leaves the window
        self.sorted_: list[float] = []  # the same values kept sorted: the median without sorting per sample

    def score_one(self, x: float) -> float:
        if x != x:  # NaN: a missing reading
            return self.missing_score
        s, n = self.sorted_, len(self.sorted_)
        if n < self.min_samples:
            return 0.0
        med = (s[(n - 1) // 2] + s[n // 2]) / 2
        # the n//2 + 1 smallest deviations from the median, merged outwards from it
        lo = bisect_right(s, med) - 1
        hi = lo + 1
        smallest: list[float] = []
        while len(smallest) <= n // 2:
            if hi >= n or (lo >= 0 and med - s[lo] <= s[hi] - med):
                smallest.append(med - s[lo])
                lo -= 1
            else:
                smallest.append(s[hi] - med)
                hi += 1
        mad = (smallest[n // 2] if n % 2 else (smallest[n // 2 - 1] + smallest[n // 2]) / 2) * MAD_TO_SIGMA
        if mad == 0:
            mad = sum(abs(v - med) for v in s) / n * MEANAD_TO_SIGMA
        return abs(x - med) / max(mad, self.min_scale)

    def learn_one(self, x: float) -> None:
        if x != x:  # NaN: not learned, it would break the sorted window
            return
        x = float(x)
        if len(self.buffer_) == self.window:
            del self.sorted_[bisect_left(self.sorted_, self.buffer_[0])]
        self.buffer_.append(x)
        insort(self.sorted_, x)

    def _score_learn_many(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros(len(x))
        i = 0
        while i < len(x) and len(self.buffer_) < self.window:  # filling up: windows of varying length
            out[i] = self.score_one(float(x[i]))
            self.learn_one(float(x[i]))
            i += 1
        if i == len(x):
            return out
        history = np.concatenate((np.fromiter(self.buffer_, float, self.window), x[i:]))
        windows = sliding_window_view(history, self.window)[: len(x) - i]
        med = np.median(windows, axis=1)
        dev = np.abs(windows - med[:, None])
        mad = np.median(dev, axis=1) * MAD_TO_SIGMA
        mad = np.where(mad == 0, dev.mean(axis=1) * MEANAD_TO_SIGMA, mad)
        out[i:] = np.abs(x[i:] - med) / np.maximum(mad, self.min_scale)
        self.buffer_.extend(x[-self.window:].tolist())
        self.sorted_ = sorted(self.buffer_)
        return out
