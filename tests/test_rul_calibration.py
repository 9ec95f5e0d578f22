"""The twin's RUL rule learns its interval from the lives it has seen end: conformal on the trend's errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from test_twin_oee import CNC, plant

from analytics.maintenance import TrendRul
from plantmodel.telemetry import Sample
from twin.alerting.config import RulRule
from twin.alerting.rules import RulWatch

T0 = datetime(2026, 7, 1, 8, tzinfo=UTC)


def _never_active(rule: str, asset: str) -> bool:
    return False


def test_rul_intervals_cover_the_truth_once_calibrated_on_past_lives() -> None:
    """Tool lives whose wear accelerates by a random amount in each life (the trend cannot know how much): the fit's
    own band misses most of the time; the intervals calibrated on the lives seen so far hold the truth near 90 %
    of the time (a little under while only a few lives are known: each life's error is mostly its own)."""
    rule = RulRule.model_validate({"id": "tool", "type": "rul", "assets": [CNC], "signal": "tool_wear",
                                   "failure_threshold": 100, "horizon_s": 1800, "window_s": 1800, "every_s": 120})
    watch = RulWatch(rule, plant().assets())
    rng = np.random.default_rng(4)
    t = 0
    inside = {False: [], True: []}
    for _ in range(40):
        rate = rng.uniform(0.5, 1.5)  # % per minute at the start of the life
        growth = rng.uniform(0.0, 1.0)  # how much faster it wears by the end
        wear, estimates = 0.0, []
        while wear < 100:
            watch.observe(Sample(CNC, "tool_wear", round(wear + rng.normal(0, 0.3), 2), "%",
                                 T0 + timedelta(seconds=t)), _never_active)
            got = watch.estimates.get(CNC)
            if got and got["at"] == T0 + timedelta(seconds=t) and np.isfinite(got["rul_s"]):
                estimates.append((t, got))
            wear += rate * (1 + growth * wear / 100) / 6
            t += 10
        for at, e in estimates:  # the tool is changed when worn out: the true RUL of each estimate is now known
            inside[e["calibrated"]].append(e["low_s"] <= t - at <= e["high_s"])
        watch.observe(Sample(CNC, "tool_wear", 0.0, "%", T0 + timedelta(seconds=t)), _never_active)
    assert watch.lives == 40 and watch.estimator.calibration_ is not None
    assert np.mean(inside[False]) < 0.5  # the trend's own band, before five lives were seen
    assert len(inside[True]) > 1000
    assert 0.78 <= np.mean(inside[True]) <= 0.96


def test_a_life_cut_short_teaches_nothing() -> None:
    rule = RulRule.model_validate({"id": "tool", "type": "rul", "assets": [CNC], "signal": "tool_wear",
                                   "failure_threshold": 100, "horizon_s": 600, "window_s": 600, "every_s": 60,
                                   "min_lives": 1})
    watch = RulWatch(rule, plant().assets())
    for minute in range(50):  # changed at 49 %: censored, no truth for its estimates
        watch.observe(Sample(CNC, "tool_wear", float(minute), "%", T0 + timedelta(minutes=minute)), _never_active)
    watch.observe(Sample(CNC, "tool_wear", 0.0, "%", T0 + timedelta(minutes=50)), _never_active)
    assert watch.lives == 0 and not watch.estimates[CNC]["calibrated"]


def test_trend_rul_without_calibration_keeps_the_band() -> None:
    t = np.arange(20.0)
    raw = TrendRul(failure_threshold=50.0, model="linear").predict(t, 10 + t)
    assert not raw.calibrated and raw.rul == 21.0
    few = TrendRul(failure_threshold=50.0, model="linear", min_pairs=20).fit([10.0] * 5, [12.0] * 5)
    assert few.calibration_ is None and not few.predict(t, 10 + t).calibrated


def test_bench_faults_scores_each_bearing_life_with_what_the_other_lives_taught() -> None:
    from benchmarks.bench_faults import Life, score_lives

    rng = np.random.default_rng(5)
    lives, at_end = [], []
    for _ in range(8):
        length = rng.uniform(40, 150)
        hours = np.arange(1.0, np.floor(length) + 1)
        rate = np.log(60 / 1.0) / length * rng.uniform(0.8, 1.2)  # reaches about 60 at failure
        indicator = np.exp(rate * hours) * np.exp(rng.normal(0, 0.08, len(hours)))
        lives.append(Life(hours, indicator, length - hours, float(length)))
        at_end.append(float(np.median(indicator[-3:])))
    calibrated, band = score_lives(lives, at_end, "exponential", onset=3.0, window_h=30.0)
    assert calibrated["points"] == band["points"] > 200
    assert band["coverage"] < 0.7
    assert 0.8 <= calibrated["coverage"] <= 0.97
