"""Anomaly detectors: streaming univariate ones (`learn_one`/`score_one`) and multivariate per-asset ones
(`fit`/`score_samples`/`predict`). Higher scores are more anomalous everywhere; `predict` returns 1 for an
anomaly and 0 for normal, like the labels of the benchmarks they are scored on.
"""

from analytics.anomaly.alarm import Alarm, explain
from analytics.anomaly.calibration import PotThreshold, QuantileThreshold, ThresholdRule
from analytics.anomaly.ewma import EwmaResidual
from analytics.anomaly.hysteresis import Hysteresis
from analytics.anomaly.isolation import IsolationForestDetector
from analytics.anomaly.mewma import Mewma
from analytics.anomaly.pca import PcaMonitor
from analytics.anomaly.range import OutOfRange
from analytics.anomaly.rate import RateOfChange
from analytics.anomaly.robust_z import RollingRobustZ
from analytics.anomaly.signals import MissingPolicy, SignalMismatch
from analytics.anomaly.spikes import SpikeCounter
from analytics.anomaly.streaming import StreamingDetector
from analytics.anomaly.stuck import StuckValue
from analytics.anomaly.threshold import Thresholded

__all__ = [
    "Alarm",
    "EwmaResidual",
    "Hysteresis",
    "IsolationForestDetector",
    "Mewma",
    "MissingPolicy",
    "OutOfRange",
    "PcaMonitor",
    "PotThreshold",
    "QuantileThreshold",
    "RateOfChange",
    "RollingRobustZ",
    "SignalMismatch",
    "SpikeCounter",
    "StreamingDetector",
    "StuckValue",
    "ThresholdRule",
    "Thresholded",
    "explain",
]
