"""Spikes: single readings far from their neighbours that the next readings abandon again.

A level change (a new set point, a drift) stays; a spike does not. Counting only outlier runs that end within
`max_run` readings keeps the one from being taken for the other.
"""

from __future__ import annotations

from analytics.anomaly.robust_z import RollingRobustZ


class SpikeCounter:
    """Robust z of each reading against the median of the readings before it; a run of at most `max_run` readings
    over `limit` followed by one under it is a spike.

    While no limit is given it learns: `largest_` is the largest z a healthy stretch showed, from which the
    caller sets the limit (as stuck limits are set from the longest healthy stand-still). A reading counts there
    only once another follows it before an `interrupt`: the last reading before a machine stops may already be
    its standstill value.

    >>> s = SpikeCounter(window=9, min_samples=5)
    >>> [s.update(x) for x in [10.0, 10.1, 9.9, 10.0, 10.1, 9.9, 10.0]] and round(s.largest_, 1)
    0.7
    >>> [s.update(x, limit=6.0) for x in [10.0, 60.0, 10.1, 10.0]]
    [False, False, True, False]
    """

    def __init__(self, window: int = 31, min_samples: int = 11, max_run: int = 2) -> None:
        if max_run < 1:
            raise ValueError(f"max_run must be >= 1, got {max_run}")
        self.window, self.min_samples, self.max_run = window, min_samples, max_run
        self.z_ = RollingRobustZ(window=window, min_samples=min_samples)
        self.run_ = 0
        self.pending_ = 0.0  # z of the last reading, learned once the next one comes
        self.largest_ = 0.0

    def update(self, x: float, limit: float | None = None) -> bool:
        """Take one reading; True when it ends a spike."""
        z = self.z_.score_one(x)
        self.z_.learn_one(x)  # the rolling median and MAD shrug off a few outliers
        if limit is None:
            self.largest_, self.pending_ = max(self.largest_, self.pending_), z
            return False
        if z > limit:
            self.run_ += 1
            return False
        ended = 0 < self.run_ <= self.max_run
        self.run_ = 0
        return ended

    def interrupt(self) -> None:
        """The readings stop for a while (the machine stopped): an outlier run open now is not known to be a
        spike, and the last reading is not learned."""
        self.run_, self.pending_ = 0, 0.0

    def restart(self) -> None:
        """Forget the readings (a new run after a stop: the values before it are no neighbours of these)."""
        self.z_ = RollingRobustZ(window=self.window, min_samples=self.min_samples)
        self.interrupt()
