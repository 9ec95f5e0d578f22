"""The Numenta Anomaly Benchmark's score (NAB v1.1, `nab/sweeper.py`).

Inside a label window only the first detection counts, rewarded more the earlier it comes; a detection outside
every window is penalised, less when it follows a window closely; a window never detected costs its weight.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class NabProfile:
    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": NabProfile(1.0, 0.11, 1.0),
    "reward_low_FP_rate": NabProfile(1.0, 0.22, 1.0),
    "reward_low_FN_rate": NabProfile(1.0, 0.11, 2.0),
}


@dataclass(frozen=True, slots=True)
class NabResult:
    """Raw score of one series and its point-wise counts over the scored (post-probation) rows."""

    score: float
    tp: int
    fp: int
    fn: int
    tn: int
    windows: int


def scaled_sigmoid(x: float) -> float:
    """2/(1+e^{5x}) − 1, and −1 once a detection is more than 3 window widths past the window."""
    return -1.0 if x > 3.0 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0)


_MAX_TP = scaled_sigmoid(-1.0)


def probation_rows(n: int) -> int:
    """Rows at the start of a series that are not scored: min(⌊0.15·n⌋, 750)."""
    return min(math.floor(0.15 * n), 750)


def score_series(detections: ArrayLike, windows: Sequence[tuple[int, int]], profile: NabProfile,
                 probation: int = 0) -> NabResult:
    """Score one series' binary detections against inclusive (first row, last row) windows.

    >>> d = np.zeros(100, bool); d[[30, 31, 37]] = True
    >>> r = score_series(d, [(30, 34), (65, 69)], NabProfile(1.0, 1.0, 1.0))
    >>> round(r.score, 4), (r.tp, r.fp, r.fn, r.tn)
    (-0.954, (2, 1, 8, 89))
    """
    flags = np.asarray(detections).astype(bool)
    n = len(flags)
    spans = sorted((int(a), int(b)) for a, b in windows)
    starts = np.array([a for a, _ in spans], dtype=np.int64)
    ends = np.array([b for _, b in spans], dtype=np.int64)
    in_window = np.zeros(n, bool)
    for a, b in spans:
        in_window[a:b + 1] = True
    scored = np.arange(n) >= probation
    tp = int((flags & in_window & scored).sum())
    fp = int((flags & ~in_window & scored).sum())
    fn = int((~flags & in_window & scored).sum())
    tn = int((~flags & ~in_window & scored).sum())

    rows = np.nonzero(flags & scored)[0]
    if len(spans) == 0:
        return NabResult(-profile.fp * len(rows), tp, fp, fn, tn, 0)
    w = np.searchsorted(starts, rows, side="right") - 1  # last window starting at or before each detection
    widths = ends - starts + 1
    inside = (w >= 0) & (rows <= ends[np.maximum(w, 0)])
    detected, first = np.unique(w[inside], return_index=True)  # only the first detection in a window counts
    hits = rows[inside][first]
    score = float(np.sum(_sigmoid(-(ends[detected] - hits + 1) / widths[detected]))) * profile.tp / _MAX_TP
    before_any = ~inside & (w < 0)
    score -= profile.fp * int(before_any.sum())
    after = ~inside & (w >= 0)
    past = np.abs(ends[w[after]] - rows[after]) / np.maximum(widths[w[after]] - 1, 1)
    score += float(np.sum(_sigmoid(past))) * profile.fp
    score -= profile.fn * (len(spans) - len(detected))
    return NabResult(score, tp, fp, fn, tn, len(spans))


def nab_normalised(results: Iterable[NabResult], profile: NabProfile) -> float:
    """100·(S − S_null)/(S_perfect − S_null) over a corpus; the null detector never fires."""
    results = list(results)
    windows = sum(r.windows for r in results)
    raw = sum(r.score for r in results)
    null, perfect = -profile.fn * windows, profile.tp * windows
    return 100.0 * (raw - null) / (perfect - null) if windows else 0.0
