"""Robust z-score: distance from the median of a rolling window, in MADs; one outlier cannot mask the next."""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

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
        self.buffer_: deque[float] = deque(maxlen=window)

    def score_one(self, x: float) -> float:
        if len(self.buffer_) < self.min_samples:
            return 0.0
        values = np.fromiter(self.buffer_, float, len(self.buffer_))
        med = np.median(values)
        dev = np.abs(values - med)
        mad = np.median(dev) * MAD_TO_SIGMA
        if mad == 0:
            mad = dev.mean() * MEANAD_TO_SIGMA
        return float(abs(x - med) / max(mad, self.min_scale))

    def learn_one(self, x: float) -> None:
        self.buffer_.append(float(x))

    def score_learn_many(self, xs: ArrayLike) -> NDArray[np.float64]:
        x = np.asarray(xs, dtype=float).ravel()
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
        return out
