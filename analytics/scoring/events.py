"""Event-wise scoring of alarms against labelled fault windows: precision, recall and detection delay per fault type.

A fault is one labelled window; an alarm is one span of time a detector held an alarm. An alarm is true when it
overlaps a label window (widened by `tolerance` on both sides) on the same asset, and, when the alarm names a
signal, on that signal; it is false when it overlaps none. A label is detected by the first alarm that overlaps its
widened window and starts no earlier than `tolerance` before the fault (an alarm already open from before is not a
detection); the delay is that alarm's start minus the fault's start, never below zero.

Precision per fault type is TP / (TP + FP) over the alarms of the detectors that look for that type: TP are the
alarms matching a label of that type, FP the alarms matching no label at all. Alarms matching a fault of another
type count for neither, since a detector that also catches other faults is not wrong to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class Span:
    """A label (`kind` = fault type) or an alarm (`kind` = detector) on `asset` from `start` to `end` (seconds)."""

    asset: str
    start: float
    end: float
    kind: str
    signal: str | None = None  # None: the alarm is about the whole asset


@dataclass(frozen=True, slots=True)
class FaultScore:
    labels: int
    detected: int
    true_alarms: int
    false_alarms: int
    delays: tuple[float, ...]  # one per detected label, seconds

    @property
    def recall(self) -> float:
        return self.detected / self.labels if self.labels else 0.0

    @property
    def precision(self) -> float:
        n = self.true_alarms + self.false_alarms
        return self.true_alarms / n if n else 0.0

    def delay(self, q: float) -> float | None:
        """The `q` quantile (0–1) of the detection delay, linear interpolation; None when nothing was detected."""
        return float(np.quantile(self.delays, q)) if self.delays else None


def _touches(alarm: Span, label: Span, tolerance: float) -> bool:
    return (alarm.asset == label.asset and (alarm.signal is None or alarm.signal == label.signal)
            and alarm.start <= label.end + tolerance and alarm.end >= label.start - tolerance)


def runs(flags: ArrayLike) -> list[tuple[int, int]]:
    """Index ranges [first, last] of consecutive true values.

    >>> runs([0, 1, 1, 0, 0, 1])
    [(1, 2), (5, 5)]
    """
    f = np.asarray(flags, dtype=bool)
    edges = np.diff(np.concatenate(([False], f, [False])).astype(np.int8))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def alarm_spans(times: ArrayLike, flags: ArrayLike, asset: str, detector: str, signal: str | None = None,
                merge_gap: float = 0.0) -> list[Span]:
    """Spans of rows flagged at `times`; spans closer than `merge_gap` merge into one alarm (e.g. spike trains).

    >>> [(s.start, s.end) for s in alarm_spans([0, 1, 2, 3, 9], [1, 0, 1, 0, 1], "a", "d", merge_gap=2)]
    [(0.0, 2.0), (9.0, 9.0)]
    """
    t = np.asarray(times, dtype=float)
    spans: list[Span] = []
    for first, last in runs(flags):
        start, end = float(t[first]), float(t[last])
        if spans and start - spans[-1].end <= merge_gap:
            spans[-1] = Span(asset, spans[-1].start, end, detector, signal)
        else:
            spans.append(Span(asset, start, end, detector, signal))
    return spans


def score_faults(labels: Sequence[Span], alarms: Iterable[Span], detectors: Mapping[str, Sequence[str]],
                 tolerance: float = 60.0) -> dict[str, FaultScore]:
    """Per fault type: recall and delay of the detectors in `detectors[type]` (all detectors when the type is
    missing), and their precision as the module docstring defines it.

    >>> labels = [Span("m", 100, 200, "drift"), Span("m", 500, 600, "drift")]
    >>> alarms = [Span("m", 130, 150, "d"), Span("m", 300, 310, "d")]
    >>> s = score_faults(labels, alarms, {}, tolerance=10)["drift"]
    >>> s.recall, s.precision, s.delays
    (0.5, 0.5, (30.0,))
    """
    alarms = list(alarms)
    matched = [[lab for lab in labels if _touches(a, lab, tolerance)] for a in alarms]
    scores = {}
    for kind in sorted({lab.kind for lab in labels}):
        mine = set(detectors.get(kind, {a.kind for a in alarms}))
        ours = [(a, m) for a, m in zip(alarms, matched, strict=True) if a.kind in mine]
        of_kind = [lab for lab in labels if lab.kind == kind]
        delays = []
        for lab in of_kind:
            starts = [a.start for a, _ in ours if _detects(a, lab, tolerance)]
            if starts:
                delays.append(float(max(min(starts) - lab.start, 0.0)))
        true = sum(1 for _, m in ours if any(lab.kind == kind for lab in m))
        false = sum(1 for _, m in ours if not m)
        scores[kind] = FaultScore(len(of_kind), len(delays), true, false, tuple(delays))
    return scores


def _detects(alarm: Span, label: Span, tolerance: float) -> bool:
    return _touches(alarm, label, tolerance) and alarm.start >= label.start - tolerance


def false_alarms(alarms: Iterable[Span], labels: Sequence[Span], tolerance: float = 60.0) -> int:
    """Alarms that overlap no label window (widened by `tolerance`)."""
    return sum(1 for a in alarms if not any(_touches(a, lab, tolerance) for lab in labels))
