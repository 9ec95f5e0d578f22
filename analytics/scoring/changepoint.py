"""SKAB's NAB-style changepoint score (the `nab` metric of SKAB's `core/metrics.py`).

Each true changepoint opens a window of `width` to its right (overlapping windows: the right one is cut to
start where the left one ends). Predicted changepoints are where the binary prediction changes. The first
prediction inside a window earns A_tp down to A_fp along a tanh curve over the window; a window without one
costs A_fn; each prediction outside every window costs A_fp. Scores are summed over files, then normalised:
100·(S − S_null)/(S_perfect − S_null).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

#: (A_tp, A_fp, A_fn) per profile, as SKAB defines them.
SKAB_PROFILES: dict[str, tuple[float, float, float]] = {
    "standard": (1.0, -0.11, -1.0),
    "low_fp": (1.0, -0.22, -1.0),
    "low_fn": (1.0, -0.11, -2.0),
}
_DETAIL = 1000  # SKAB samples its tanh curve at 1000 points and takes the nearest one below


def changepoint_windows(changepoint_times: ArrayLike, width: float) -> list[tuple[float, float]]:
    """[t, t + width] for each changepoint, overlaps cut on the right window.

    >>> changepoint_windows([0, 30, 200], 60)
    [(0.0, 60.0), (60.0, 90.0), (200.0, 260.0)]
    """
    windows = [[float(t), float(t) + width] for t in np.sort(np.asarray(changepoint_times, dtype=float))]
    for left, right in itertools.pairwise(windows):
        if left[1] >= right[0]:
            right[0] = left[1]
    return [(a, b) for a, b in windows]


def _tp_reward(detected: float, start: float, end: float, a_tp: float, a_fp: float) -> float:
    event = min(int((detected - start) / (end - start) * _DETAIL), _DETAIL - 1) if end > start else 0
    x = -math.pi / 2 + math.pi * event / (_DETAIL - 1)
    half = (a_tp - a_fp) / 2
    return -half * math.tanh(x) / math.tanh(math.pi / 2) + half + a_fp


def _file_terms(windows: Sequence[tuple[float, float]], detections: np.ndarray,
                profile: tuple[float, float, float]) -> tuple[float, float, float]:
    a_tp, a_fp, a_fn = profile
    if not windows:
        return a_fp * len(detections), 0.0, 0.0
    fps = int((detections < windows[0][0]).sum()) + int((detections > windows[-1][1]).sum())
    for (_, end), (start, _) in itertools.pairwise(windows):
        fps += int(((detections > end) & (detections < start)).sum())
    score = a_fp * fps
    for start, end in windows:
        inside = detections[(detections >= start) & (detections <= end)]
        score += _tp_reward(float(inside[0]), start, end, a_tp, a_fp) if len(inside) else a_fn
    return score, a_fn * len(windows), a_tp * len(windows)


def changepoint_score(files: Iterable[tuple[ArrayLike, ArrayLike, ArrayLike]], width: float = 60.0,
                      ) -> dict[str, float]:
    """Normalised score per profile over (times, true changepoint flags, binary prediction) per file.

    >>> t = np.arange(10.0)
    >>> changepoint_score([(t, [0, 0, 1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1, 1, 1, 1, 1])], width=5)
    {'standard': 100.0, 'low_fp': 100.0, 'low_fn': 100.0}
    """
    totals = {name: np.zeros(3) for name in SKAB_PROFILES}
    for times, truth, prediction in files:
        t = np.asarray(times, dtype=float)
        windows = changepoint_windows(t[np.asarray(truth).astype(bool)], width)
        p = np.asarray(prediction).astype(int)
        changed = np.concatenate(([False], np.diff(p) != 0))
        detections = np.sort(t[changed])
        for name, profile in SKAB_PROFILES.items():
            totals[name] += _file_terms(windows, detections, profile)
    out = {}
    for name, (score, null, perfect) in totals.items():
        out[name] = float(round(100 * (score - null) / (perfect - null), 2)) if perfect != null else 0.0
    return out
