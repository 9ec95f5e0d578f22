"""Health indicator, degradation trend and RUL on synthetic degradation whose failure time is known exactly.

Scoring against the simulator's degradation ground truth comes when the simulator carries wear; these runs
pin the maths down first.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.maintenance import HealthIndicator, maintenance_alert, remaining_useful_life

RATE = 0.004  # per hour
FAILURE = 20.0
TRUE_FAILURE_AT = math.log(FAILURE) / RATE  # ≈ 749 h


def _wear(seed: int, until: float, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, until)
    return t, np.exp(RATE * t + noise * rng.normal(size=len(t)))


@pytest.mark.parametrize("at", [300.0, 450.0, 600.0, 700.0])
def test_rul_converges_on_the_true_failure_time(at: float) -> None:
    t, h = _wear(0, at)
    r = remaining_useful_life(t, h, FAILURE, model="exponential")
    true_rul = TRUE_FAILURE_AT - t[-1]
    assert abs(r.rul - true_rul) < 0.1 * true_rul + 5
    assert r.low <= true_rul <= r.high


def test_rul_interval_covers_the_truth_at_its_level() -> None:
    covered = 0
    for seed in range(40):
        t, h = _wear(seed, 400.0, noise=0.15)
        r = remaining_useful_life(t, h, FAILURE, model="exponential", level=0.9)
        covered += r.low <= TRUE_FAILURE_AT - t[-1] <= r.high
    assert covered >= 0.85 * 40


def test_linear_trend_and_no_crossing() -> None:
    t = np.arange(100.0)
    rng = np.random.default_rng(1)
    rising = 2.0 + 0.05 * t + 0.01 * rng.normal(size=100)
    r = remaining_useful_life(t, rising, 10.0, model="linear")
    assert r.rul == pytest.approx((10.0 - 2.0) / 0.05 - 99, abs=3) and r.low < r.rul < r.high
    flat = remaining_useful_life(t, 2.0 + 0.01 * rng.normal(size=100), 10.0, model="linear", horizon=1000)
    assert math.isinf(flat.rul) and math.isinf(flat.high)
    with pytest.raises(ValueError, match="at least 3"):
        remaining_useful_life([1.0, 2.0], [1.0, 2.0], 10.0)


def test_health_indicator_tracks_wear_and_raises_a_maintenance_alert() -> None:
    rng = np.random.default_rng(2)
    hours = np.arange(0.0, 700.0)
    wear = np.exp(RATE * hours) - 1  # 0 while new, 19 at the failure time
    signals = {"vibration_rms": 2.0 + 0.2 * wear + 0.1 * rng.normal(size=700),
               "spindle_temperature": 45.0 + 0.5 * wear + 0.5 * rng.normal(size=700),
               "power": 7.5 + 0.2 * rng.normal(size=700)}
    hi = HealthIndicator().fit({k: v[:150] for k, v in signals.items()})
    index = hi.transform(signals)
    assert 0.5 < np.median(index[:150]) < 1.5
    assert np.median(index[-50:]) > 10 * np.median(index[:150])  # grows with wear
    failure_level = float(hi.transform({k: np.array([v]) for k, v in
                                        {"vibration_rms": 2.0 + 0.2 * 19, "spindle_temperature": 45.0 + 0.5 * 19,
                                         "power": 7.5}.items()})[0])
    degrading = hours >= 500  # the recent trend: early wear is not yet exponential in the indicator
    r = remaining_useful_life(hours[degrading], index[degrading], failure_level, model="exponential")
    true_rul = TRUE_FAILURE_AT - hours[-1]
    assert abs(r.rul - true_rul) < 0.3 * true_rul
    assert maintenance_alert("cnc-1", r, horizon=100.0) is not None
    assert maintenance_alert("cnc-1", r, horizon=1.0) is None
