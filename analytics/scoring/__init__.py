"""Scoring detectors against labels: point-wise F1/FAR/MAR, SKAB's changepoint score, and NAB's score."""

from analytics.scoring.changepoint import changepoint_score, changepoint_windows
from analytics.scoring.nab import PROFILES, NabProfile, NabResult, nab_normalised, probation_rows, score_series
from analytics.scoring.pointwise import Confusion

__all__ = [
    "PROFILES",
    "Confusion",
    "NabProfile",
    "NabResult",
    "changepoint_score",
    "changepoint_windows",
    "nab_normalised",
    "probation_rows",
    "score_series",
]
