"""The scorers reproduce their references exactly: NAB's published test vector, SKAB's changepoint rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.anomaly import PotThreshold, QuantileThreshold
from analytics.scoring import PROFILES, Confusion, NabProfile, changepoint_score, changepoint_windows, score_series
from analytics.scoring.nab import nab_normalised, probation_rows


def test_nab_reproduces_the_reference_test_vector() -> None:
    """../shared/reference/nab.md: length 100, windows 30–34 and 65–69, weights 1, detections 30, 31, 37."""
    detections = np.zeros(100, bool)
    detections[[30, 31, 37]] = True
    r = score_series(detections, [(30, 34), (65, 69)], NabProfile(1.0, 1.0, 1.0), probation=0)
    fp_at_37 = 2 / (1 + math.exp(5 * 3 / 4)) - 1
    assert r.score == pytest.approx(1.0 + fp_at_37 - 1.0, abs=1e-12)
    assert round(r.score, 4) == -0.9540
    assert (r.tp, r.fp, r.fn, r.tn) == (2, 1, 8, 89)


def test_nab_rewards_early_detection_and_penalises_early_false_alarms() -> None:
    standard = PROFILES["standard"]
    windows = [(50, 59)]
    early, late, before = (np.zeros(100, bool) for _ in range(3))
    early[50], late[59], before[10] = True, True, True
    assert score_series(early, windows, standard).score == pytest.approx(1.0)
    sigma = lambda x: 2 / (1 + math.exp(5 * x)) - 1  # noqa: E731
    assert score_series(late, windows, standard).score == pytest.approx(sigma(-0.1) / sigma(-1.0))  # last row
    assert score_series(before, windows, standard).score == pytest.approx(-0.11 - 1.0)
    assert score_series(before, windows, standard, probation=15).score == pytest.approx(-1.0)  # not scored


def test_nab_normalises_against_null_and_perfect() -> None:
    standard = PROFILES["standard"]
    windows = [(50, 59)]
    perfect = np.zeros(100, bool)
    perfect[50] = True
    assert nab_normalised([score_series(perfect, windows, standard)], standard) == pytest.approx(100.0)
    assert nab_normalised([score_series(np.zeros(100, bool), windows, standard)], standard) == 0.0
    assert probation_rows(1000) == 150 and probation_rows(22695) == 750


def test_skab_changepoint_windows_and_score() -> None:
    assert changepoint_windows([100, 130], 60) == [(100.0, 160.0), (160.0, 190.0)]
    t = np.arange(300.0)
    truth = np.zeros(300, int)
    truth[100] = 1
    on_time = (t >= 100).astype(int)
    assert changepoint_score([(t, truth, on_time)]) == {"standard": 100.0, "low_fp": 100.0, "low_fn": 100.0}
    never = np.zeros(300, int)
    assert changepoint_score([(t, truth, never)])["standard"] == 0.0
    late_and_chatter = ((t >= 130) | (t == 20)).astype(int)  # halfway into the window, plus a blip before it
    s = changepoint_score([(t, truth, late_and_chatter)])
    assert s["low_fp"] < s["standard"] < 100.0
    # halfway along the tanh curve is (A_tp + A_fp) / 2; the blip is two changes, 2·A_fp
    expected = 100 * ((1 - 0.11) / 2 - 2 * 0.11 + 1) / 2
    assert s["standard"] == pytest.approx(expected, abs=0.2)


def test_confusion_rates() -> None:
    c = Confusion.of([1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0, 0]) + Confusion(tp=1)
    assert (c.tp, c.fp, c.fn, c.tn) == (3, 1, 1, 4)
    assert c.f1 == pytest.approx(3 / 4) and c.far == pytest.approx(20.0) and c.mar == pytest.approx(25.0)
    with pytest.raises(ValueError, match="shape"):
        Confusion.of([1, 0], [1])


def test_thresholds_from_the_healthy_baseline() -> None:
    rng = np.random.default_rng(0)
    scores = rng.exponential(size=20_000)
    # the exponential's 1e-4 tail quantile is ln(1e4) = 9.21; POT extrapolates past what 20,000 samples show well
    assert PotThreshold(risk=1e-4)(scores) == pytest.approx(math.log(1e4), rel=0.1)
    assert QuantileThreshold(q=0.99)(scores) == pytest.approx(math.log(100), rel=0.05)
    assert QuantileThreshold(q=1.0, margin=2.0)([1.0, 3.0, np.nan]) == 6.0
    with pytest.raises(ValueError, match="finite"):
        QuantileThreshold()([np.nan])


def _nab_by_the_rules(flags: np.ndarray, windows: list[tuple[int, int]], p: NabProfile, probation: int) -> float:
    """NAB's sweeper, row by row, as the reference for the vectorised scorer."""
    def sigma(x: float) -> float:
        return -1.0 if x > 3 else 2 / (1 + math.exp(5 * x)) - 1

    score, seen, previous = 0.0, set(), None
    for i in range(probation, len(flags)):
        window = next((w for w in windows if w[0] <= i <= w[1]), None)
        if window is not None:
            if flags[i] and window not in seen:
                seen.add(window)
                score += sigma(-(window[1] - i + 1) / (window[1] - window[0] + 1)) * p.tp / sigma(-1.0)
            previous = window
        elif flags[i]:
            score += -p.fp if previous is None else sigma(abs(previous[1] - i) / (previous[1] - previous[0])) * p.fp
    return score - p.fn * (len(windows) - len(seen))


@pytest.mark.parametrize("seed", range(5))
def test_nab_vectorised_scorer_matches_the_rules(seed: int) -> None:
    rng = np.random.default_rng(seed)
    flags = rng.random(600) < 0.03
    windows = [(100, 139), (300, 319), (500, 579)]
    for profile in PROFILES.values():
        assert score_series(flags, windows, profile, probation=90).score == pytest.approx(
            _nab_by_the_rules(flags, windows, profile, 90))
