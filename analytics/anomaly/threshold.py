"""Thresholding as a wrapper: it decides what is an anomaly and keeps anomalies out of what the detector learns,
so a fault that lasts does not become the new normal.
"""

from __future__ import annotations

from analytics.anomaly.calibration import QuantileThreshold, ThresholdRule
from analytics.anomaly.streaming import StreamingDetector


class Thresholded(StreamingDetector):
    """Calibrate a threshold on the first `calibration` scores, then learn only values scoring at or under it.

    A fixed `threshold` skips calibration. `rejected_` counts the values kept out of learning.

    >>> from analytics.anomaly.ewma import EwmaResidual
    >>> d = Thresholded(EwmaResidual(alpha=0.1, warmup=2), threshold=4.0)
    >>> for x in [1.0, 1.1, 0.9, 1.0, 1.05]:
    ...     d.learn_one(x)
    >>> d.predict_one(1.0), d.predict_one(50.0)
    (False, True)
    >>> d.learn_one(50.0); d.rejected_
    1
    """

    def __init__(self, detector: StreamingDetector, threshold: float | None = None, calibration: int = 500,
                 rule: ThresholdRule | None = None) -> None:
        self.detector = detector
        self.threshold = threshold
        self.calibration = calibration
        self.rule = rule
        self.threshold_: float | None = threshold
        self.calibration_scores_: list[float] = []
        self.rejected_ = 0

    def score_one(self, x: float) -> float:
        return self.detector.score_one(x)

    def predict_one(self, x: float) -> bool:
        """True when `x` is an anomaly; always False while calibrating."""
        return self.threshold_ is not None and self.detector.score_one(x) > self.threshold_

    def learn_one(self, x: float) -> None:
        if x != x:  # NaN: nothing to calibrate on or learn
            return
        score = self.detector.score_one(x)
        if self.threshold_ is None:
            self.calibration_scores_.append(score)
            if len(self.calibration_scores_) >= self.calibration:
                rule = self.rule or QuantileThreshold(q=0.999, margin=1.5)
                self.threshold_ = rule(self.calibration_scores_)
                self.calibration_scores_ = []
        elif score > self.threshold_:
            self.rejected_ += 1
            return
        self.detector.learn_one(x)
