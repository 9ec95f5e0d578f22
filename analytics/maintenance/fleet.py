"""Remaining useful life learned from a fleet's run-to-failure histories (C-MAPSS style).

Each unit's history (one row per operating cycle, one column per sensor) becomes, at every cycle, a row of
window features that only look back: the unit's age, the mean, recent level, slope and spread of each sensor
over the last `window` cycles, and the recent level's departure from the unit's own first cycles (units differ
in their healthy level). A gradient-boosted tree ensemble maps them to the RUL, trained on a target capped at
`cap` cycles (piecewise linear: early in life the data say nothing about how far failure is, so the model is
not asked to guess). Small enough for an edge device: a few MB, a few seconds to fit on 20,000 rows.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor


def _window_sums(c: NDArray[np.float64], start: NDArray[np.int64], end: NDArray[np.int64]) -> NDArray[np.float64]:
    """Sums of rows start..end-1 from a cumulative sum with a leading row of zeros."""
    return c[end] - c[start]


def window_features(history: ArrayLike, window: int = 30, recent: int = 5) -> NDArray[np.float64]:
    """Features at every cycle of one unit's `history` (cycles × sensors), each from that cycle and before.

    Columns: age (cycles so far), then for every sensor in turn its window mean, then its mean of the last
    `recent` cycles, least-squares slope over the window, window standard deviation, and recent mean minus the
    mean of the unit's first `window` cycles (as far as seen).

    >>> h = np.column_stack([np.arange(40.0), np.full(40, 3.0)])
    >>> f = window_features(h, window=10, recent=2)
    >>> f.shape
    (40, 11)
    >>> [round(float(v), 3) for v in f[-1, [0, 1, 3, 5, 7, 9]]]  # age; mean, recent, slope, std, shift of sensor 0
    [40.0, 34.5, 38.5, 1.0, 2.872, 34.0]
    """
    s = np.asarray(history, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"history must be cycles × sensors, got shape {s.shape}")
    n = len(s)
    if n == 0:
        return np.empty((0, 1 + 5 * s.shape[1]))
    origin = s[0].copy()
    s = s - origin  # sums of squares stay exact for large levels with small spread
    idx = np.arange(n, dtype=float)
    zero = np.zeros((1, s.shape[1]))
    c1 = np.vstack([zero, np.cumsum(s, axis=0)])
    c2 = np.vstack([zero, np.cumsum(s * s, axis=0)])
    ci = np.vstack([zero, np.cumsum(idx[:, None] * s, axis=0)])
    end = np.arange(1, n + 1)
    start = np.maximum(end - window, 0)
    k = (end - start).astype(float)[:, None]
    mean = _window_sums(c1, start, end) / k
    var = np.maximum(_window_sums(c2, start, end) / k - mean**2, 0.0)
    centre = ((start + end - 1) / 2.0)[:, None]
    sxx = k * (k * k - 1) / 12.0
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(k >= 3, (_window_sums(ci, start, end) - centre * _window_sums(c1, start, end)) / sxx, 0.0)
    r_start = np.maximum(end - recent, 0)
    last = _window_sums(c1, r_start, end) / (end - r_start)[:, None]
    first_n = np.minimum(end, window)
    first = c1[first_n] / first_n[:, None]
    return np.column_stack([end.astype(float), mean + origin, last + origin, slope, np.sqrt(var), last - first])


class FleetRul(RegressorMixin, BaseEstimator):
    """`fit(features, rul)` on every cycle of run-to-failure histories; `predict` gives the RUL, in [0, cap].

    >>> rng = np.random.default_rng(0)
    >>> life = [rng.integers(150, 250) for _ in range(20)]
    >>> wear = [np.column_stack([np.exp(np.arange(n) / n * 3) + rng.normal(0, 0.3, n)]) for n in life]
    >>> X = np.vstack([window_features(w) for w in wear])
    >>> y = np.concatenate([n - 1 - np.arange(n) for n in life])
    >>> model = FleetRul(max_iter=50).fit(X, y)
    >>> bool(0 <= model.predict(X).min() and model.predict(X).max() <= 125)
    True
    """

    def __init__(self, cap: float = 125.0, max_iter: int = 300, learning_rate: float = 0.05,
                 max_leaf_nodes: int = 15, min_samples_leaf: int = 50, l2_regularization: float = 1.0,
                 random_state: int | None = 0) -> None:
        self.cap = cap
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> FleetRul:
        target = np.minimum(np.asarray(y, dtype=float), self.cap)
        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            early_stopping=False, random_state=self.random_state).fit(np.asarray(X, dtype=float), target)
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def predict(self, X: ArrayLike) -> NDArray[np.float64]:
        return np.clip(self.model_.predict(np.asarray(X, dtype=float)), 0.0, self.cap)
