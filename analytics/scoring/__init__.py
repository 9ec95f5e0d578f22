"""Scoring detectors against labels: point-wise F1/FAR/MAR, SKAB's changepoint score, NAB's score;
event-wise precision, recall and delay per fault type; RUL error over a life."""

from analytics.scoring.changepoint import changepoint_score, changepoint_windows
from analytics.scoring.events import FaultScore, Span, alarm_spans, false_alarms, score_faults
from analytics.scoring.nab import PROFILES, NabProfile, NabResult, nab_normalised, probation_rows, score_series
from analytics.scoring.pointwise import Confusion
from analytics.scoring.rul import RulScore, score_rul

__all__ = [
    "PROFILES",
    "Confusion",
    "FaultScore",
    "NabProfile",
    "NabResult",
    "RulScore",
    "Span",
    "alarm_spans",
    "changepoint_score",
    "changepoint_windows",
    "false_alarms",
    "nab_normalised",
    "probation_rows",
    "score_faults",
    "score_rul",
    "score_series",
]
