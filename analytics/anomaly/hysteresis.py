"""Alarm hysteresis: raise over the threshold, clear only once the score falls well under it, so a score that
hovers around the threshold gives one alarm instead of a chatter of them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


class Hysteresis:
    """Online alarm state: on when score > `on`, off when score < `off_ratio` × `on`, else unchanged.

    >>> h = Hysteresis(on=10.0, off_ratio=0.5)
    >>> h.update([1, 11, 8, 6, 4, 12, 9]).tolist()
    [0, 1, 1, 1, 0, 1, 1]
    """

    def __init__(self, on: float, off_ratio: float = 0.5) -> None:
        if not 0 < off_ratio <= 1:
            raise ValueError(f"off_ratio must be in (0, 1], got {off_ratio}")
        self.on = on
        self.off_ratio = off_ratio
        self.active_ = False

    def update(self, scores: ArrayLike) -> NDArray[np.int64]:
        s = np.asarray(scores, dtype=float).ravel()
        event = np.where(s > self.on, 1, np.where(s < self.on * self.off_ratio, -1, 0))
        idx = np.arange(len(s))
        last = np.maximum.accumulate(np.where(event != 0, idx, -1))  # index of the latest decisive score
        state = np.where(last >= 0, event[np.maximum(last, 0)] > 0, self.active_)
        if len(s):
            self.active_ = bool(state[-1])
        return state.astype(np.int64)
