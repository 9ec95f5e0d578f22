"""A score that rises anew: what a new fault does to an alarm that a slow degradation already holds open.

A worn bearing can hold a machine's anomaly score over its threshold for days, creeping up as it wears. A new
fault on top of it (a coolant loss, a damaged bearing race) lifts the score within minutes, far above what the
wear showed before. `FreshRise` says when the score reaches `factor` times its typical peak (the median of each
`block_s`'s peak) over the `lookback_s` before the latest `recent_s`: the recent stretch is left out so that the
rise itself is not its own reference, and a median of hours is a level that wear creeping up by a few percent an
hour never triples, while one fault that came and went does not raise it for the next.

A rise stays one piece of news while it lasts: what follows is measured against its peak until the value has
stayed under that peak / `factor` for `fall_s` (the fault is over; a restart, whose chart builds up again within
seconds, is not). Time is counted only while the score is observed: a gap between observations counts up to
`max_gap_s`, so the hours a machine stands still (no rows, no scores) neither age its peaks out nor make a
restart look like a rise.
"""

from __future__ import annotations

import math
import statistics
from collections import deque


class FreshRise:
    """Online: `update(ts_s, value)` is True when `value` is `factor` × the reference or more.

    >>> r = FreshRise(factor=3.0, recent_s=60, lookback_s=600, block_s=10, fall_s=30)
    >>> [r.update(t, 10.0 + t / 100) for t in range(0, 300)].count(True)  # creeping: never news
    0
    >>> [r.update(t, v) for t, v in ((300, 40.0), (301, 45.0), (302, 130.0))]  # a jump on top: news once
    [True, False, False]
    >>> [r.update(t, 13.0) for t in range(303, 400)].count(True)  # it is over
    0
    >>> r.update(400, 60.0)  # the next one is news again
    True
    """

    def __init__(self, factor: float = 3.0, recent_s: float = 1800.0, lookback_s: float = 14_400.0,
                 block_s: float = 60.0, fall_s: float = 300.0, max_gap_s: float = 60.0) -> None:
        if factor <= 1:
            raise ValueError(f"factor must be > 1, got {factor}")
        if not 0 < block_s <= recent_s < lookback_s:
            raise ValueError(f"need 0 < block_s <= recent_s < lookback_s, got {block_s}, {recent_s}, {lookback_s}")
        self.factor, self.recent_s, self.lookback_s = factor, recent_s, lookback_s
        self.block_s, self.fall_s, self.max_gap_s = block_s, fall_s, max_gap_s
        self.elapsed_ = 0.0  # observed seconds so far
        self.blocks_: deque[tuple[int, float]] = deque()  # (block number: observed seconds // block_s, its peak)
        self.last_ts_: float | None = None
        self.risen_: float | None = None  # the peak of the rise under way, if one is
        self.under_since_: float | None = None  # since when (observed seconds) the value is under risen_ / factor
        self.reference_: float | None = None  # what the latest value was compared with
        self._typical: tuple[tuple[int, int], float | None] = ((0, -1), None)  # (block span, its median) cached

    def typical(self) -> float | None:
        """The median of the block peaks over the lookback before the recent stretch (None: nothing that old)."""
        b = self.block_s
        span = (math.ceil((self.elapsed_ - self.lookback_s) / b), math.floor((self.elapsed_ - self.recent_s) / b))
        if span != self._typical[0]:  # blocks k with k*b >= now - lookback and (k+1)*b <= now - recent
            peaks = [peak for k, peak in self.blocks_ if span[0] <= k < span[1]]
            self._typical = (span, statistics.median(peaks) if peaks else None)
        return self._typical[1]

    def update(self, ts_s: float, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.last_ts_ is not None:
            self.elapsed_ += min(max(ts_s - self.last_ts_, 0.0), self.max_gap_s)
        self.last_ts_ = ts_s
        now, b = self.elapsed_, self.block_s
        while self.blocks_ and (self.blocks_[0][0] + 1) * b < now - self.lookback_s:
            self.blocks_.popleft()
        if self.risen_ is not None:  # a rise under way: over once the value has stayed well under its peak
            if value >= self.risen_ / self.factor:
                self.under_since_ = None
            elif self.under_since_ is None:
                self.under_since_ = now
            elif now - self.under_since_ >= self.fall_s:
                self.risen_ = self.under_since_ = None
        ref = typical = self.typical()
        if self.risen_ is not None:
            ref = self.risen_ if typical is None else max(typical, self.risen_)
        self.reference_ = ref
        rose = ref is not None and value >= self.factor * ref
        k = math.floor(now / b)
        if not self.blocks_ or self.blocks_[-1][0] != k:
            self.blocks_.append((k, value))
        elif value > self.blocks_[-1][1]:
            self.blocks_[-1] = (k, value)
        if rose or (self.risen_ is not None and value > self.risen_):
            self.risen_ = value
        return rose
