"""Alarm hysteresis: raise over the threshold, clear only once the score falls well under it, so a score that
hovers around the threshold gives one alarm instead of a chatter of them.

After a large event the equipment rarely returns to exactly its baseline (a pump reassembled after an
imbalance vibrates a few percent differently), and a chart fitted on a short baseline keeps alarming on that
small remainder long after the event. With `release_ratio`, an alarm also clears once the score has fallen
under that share of the episode's peak, and the raise level then starts at that share and decays back to `on`
with half-life `recovery_rows`: what follows a large event must be large relative to it, for a while, to alarm.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


class Hysteresis:
    """Online alarm state: on when score > `on`, off when score < `off_ratio` × `on`, else unchanged.

    >>> h = Hysteresis(on=10.0, off_ratio=0.5)
    >>> h.update([1, 11, 8, 6, 4, 12, 9]).tolist()
    [0, 1, 1, 1, 0, 1, 1]
    >>> big = Hysteresis(on=10.0, off_ratio=0.5, release_ratio=0.01, recovery_rows=2)
    >>> big.update([1, 5000, 40, 30, 20, 15, 12, 11]).tolist()  # 40 < 1 % of the peak; the raise level 50 decays
    [0, 1, 0, 0, 0, 0, 0, 1]
    """

    def __init__(self, on: float, off_ratio: float = 0.5, release_ratio: float = 0.0,
                 recovery_rows: float = 100.0) -> None:
        if not 0 < off_ratio <= 1:
            raise ValueError(f"off_ratio must be in (0, 1], got {off_ratio}")
        if not 0 <= release_ratio < 1:
            raise ValueError(f"release_ratio must be in [0, 1), got {release_ratio}")
        if recovery_rows <= 0:
            raise ValueError(f"recovery_rows must be > 0, got {recovery_rows}")
        self.on = on
        self.off_ratio = off_ratio
        self.release_ratio = release_ratio
        self.recovery_rows = recovery_rows
        self.active_ = False
        self.peak_ = 0.0
        self.level_ = on  # the raise level now: `on`, or higher while recovering from a large event

    def update(self, scores: ArrayLike) -> NDArray[np.int64]:
        s = np.asarray(scores, dtype=float).ravel()
        if self.release_ratio > 0:
            return self._update_released(s)
        event = np.where(s > self.on, 1, np.where(s < self.on * self.off_ratio, -1, 0))
        idx = np.arange(len(s))
        last = np.maximum.accumulate(np.where(event != 0, idx, -1))  # index of the latest decisive score
        state = np.where(last >= 0, event[np.maximum(last, 0)] > 0, self.active_)
        if len(s):
            self.active_ = bool(state[-1])
        return state.astype(np.int64)

    def _update_released(self, s: NDArray[np.float64]) -> NDArray[np.int64]:
        out = np.zeros(len(s), dtype=np.int64)
        decay = 0.5 ** (1.0 / self.recovery_rows)
        on, off, ratio = self.on, self.on * self.off_ratio, self.release_ratio
        active, peak, level = self.active_, self.peak_, self.level_
        for i, score in enumerate(s.tolist()):
            if not active:
                level = max(on, level * decay)
                if score > level:
                    active, peak = True, score
            else:
                peak = max(peak, score)
                if score < off:
                    active, level = False, on
                elif score < ratio * peak:
                    active, level = False, ratio * peak
            out[i] = active
        self.active_, self.peak_, self.level_ = active, peak, level
        return out
