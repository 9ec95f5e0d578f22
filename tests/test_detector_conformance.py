"""One conformance suite for every anomaly detector: the contract the twin relies on, checked the same way for all.

Streaming detectors: block scoring equals one-at-a-time scoring, deterministic, input untouched, pickles, finite
scores that rise on an anomaly. Multivariate ones: the same plus scikit-learn's conventions and named signals
(extra ignored, missing refused by name or imputed by policy).
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.base import clone

from analytics.anomaly import (
    EwmaResidual,
    IsolationForestDetector,
    Mewma,
    OutOfRange,
    PcaMonitor,
    QuantileThreshold,
    RateOfChange,
    RollingRobustZ,
    SignalMismatch,
    StreamingDetector,
    StuckValue,
    Thresholded,
)
from analytics.anomaly.base import MultivariateDetector

STREAMING: dict[str, Callable[[], StreamingDetector]] = {
    "ewma": lambda: EwmaResidual(alpha=0.1, warmup=5),
    "robust_z": lambda: RollingRobustZ(window=20, min_samples=5),
    "rate": lambda: RateOfChange(alpha=0.1, warmup=5),
    "stuck": lambda: StuckValue(patience=5),
    "range": lambda: OutOfRange(low=-4.0, high=4.0),
    "thresholded": lambda: Thresholded(EwmaResidual(alpha=0.1, warmup=5), calibration=50),
}


def _stream(seed: int = 7, n: int = 400) -> np.ndarray:
    """Noise with a spike, a step and a flat stretch: something for every detector to react to."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n).round(2)
    x[150] += 12.0
    x[250:] += 3.0
    x[300:320] = x[300]
    return x


def _loop(detector: StreamingDetector, xs: np.ndarray) -> np.ndarray:
    out = []
    for x in xs:
        out.append(detector.score_one(float(x)))
        detector.learn_one(float(x))
    return np.array(out)


@pytest.mark.parametrize("name", STREAMING)
def test_streaming_blocks_equal_one_at_a_time(name: str) -> None:
    xs = _stream()
    expected = _loop(STREAMING[name](), xs)
    detector = STREAMING[name]()
    got = np.concatenate([detector.score_learn_many(xs[a:b]) for a, b in [(0, 1), (1, 7), (7, 90), (90, 400)]])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    assert np.isfinite(got).all() and (got >= 0).all()


@pytest.mark.parametrize("name", STREAMING)
def test_streaming_missing_readings_change_nothing(name: str) -> None:
    xs = _stream()
    holes = xs.copy()
    holes[[3, 40, 41, 151, 305]] = np.nan
    loop = _loop(STREAMING[name](), holes)
    blocks = STREAMING[name]()
    got = np.concatenate([blocks.score_learn_many(holes[a:b]) for a, b in [(0, 41), (41, 200), (200, 400)]])
    np.testing.assert_allclose(got, loop, rtol=1e-9, atol=1e-9)
    missing = np.isnan(holes)
    clean = STREAMING[name]().score_learn_many(holes[~missing])
    np.testing.assert_allclose(got[~missing], clean, rtol=1e-9, atol=1e-9)  # as if the NaNs never came
    assert (got[missing] == STREAMING[name]().missing_score).all()


@pytest.mark.parametrize("name", STREAMING)
def test_streaming_deterministic_input_untouched_and_pickles(name: str) -> None:
    xs = _stream()
    before = xs.copy()
    a, b = STREAMING[name](), STREAMING[name]()
    np.testing.assert_array_equal(a.score_learn_many(xs[:200]), b.score_learn_many(xs[:200]))
    np.testing.assert_array_equal(xs, before)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.score_learn_many(xs[200:]), a.score_learn_many(xs[200:]))


@pytest.mark.parametrize("name", STREAMING)
def test_streaming_scores_rise_on_an_anomaly(name: str) -> None:
    detector = STREAMING[name]()
    rng = np.random.default_rng(3)
    detector.score_learn_many(rng.normal(size=100).round(2))
    normal, anomalous = 0.3, 40.0
    if name == "stuck":
        detector.score_learn_many([anomalous] * 6)
    assert detector.score_one(anomalous) > detector.score_one(normal) + 0.5


def test_thresholded_keeps_anomalies_out_of_learning() -> None:
    inner = EwmaResidual(alpha=0.2, warmup=5)
    wrapped = Thresholded(inner, calibration=100)
    rng = np.random.default_rng(0)
    for x in rng.normal(size=100):
        wrapped.learn_one(float(x))
    assert wrapped.threshold_ is not None
    mean_before = inner.mean_
    for _ in range(50):  # a lasting fault
        wrapped.learn_one(30.0)
    assert wrapped.rejected_ == 50 and inner.mean_ == mean_before and wrapped.predict_one(30.0)
    bare = EwmaResidual(alpha=0.2, warmup=5)
    bare.score_learn_many(np.concatenate((rng.normal(size=100), np.full(50, 30.0))))
    assert bare.score_one(30.0) < wrapped.score_one(30.0)  # without the wrapper the fault became normal


# --- multivariate ---------------------------------------------------------------------------------------

MULTIVARIATE: dict[str, Callable[..., MultivariateDetector]] = {
    "pca": lambda **kw: PcaMonitor(n_components=2, threshold=QuantileThreshold(q=0.999), **kw),
    "isolation_forest": lambda **kw: IsolationForestDetector(n_estimators=50, random_state=0, **kw),
    "mewma": lambda **kw: Mewma(alpha=0.3, rate_signals=("temp",), threshold=QuantileThreshold(1.0, 1.5), **kw),
}
NAMES = ("flow", "pressure", "temp", "vibration")


def _baseline(n: int = 500, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    return {"flow": 30 + latent + 0.2 * rng.normal(size=n), "pressure": 2 + 0.1 * latent + 0.02 * rng.normal(size=n),
            "temp": 60 + np.cumsum(0.01 * rng.normal(size=n)), "vibration": 0.5 + 0.05 * rng.normal(size=n)}


def _fault(rows: dict[str, np.ndarray], signal: str, size: float) -> dict[str, np.ndarray]:
    faulty = {k: v.copy() for k, v in rows.items()}
    faulty[signal][-60:] += size
    return faulty


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_multivariate_follows_estimator_conventions(name: str) -> None:
    detector = MULTIVARIATE[name]()
    assert detector.fit(_baseline()) is detector
    assert detector.signal_names_ == NAMES and detector.n_features_in_ == 4
    params = detector.get_params()
    assert clone(detector).get_params() == params  # hyper-parameters only in __init__
    assert not hasattr(clone(detector), "threshold_")
    scores = detector.score_samples(_baseline(seed=12))
    assert scores.shape == (500,) and np.isfinite(scores).all()
    assert set(np.unique(detector.predict(_baseline(seed=12)))) <= {0, 1}
    assert detector.predict(_baseline(seed=12)).mean() < 0.05  # healthy data mostly passes


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_multivariate_deterministic_untouched_and_pickles(name: str) -> None:
    base = _baseline()
    frozen = copy.deepcopy(base)
    a, b = MULTIVARIATE[name]().fit(base), MULTIVARIATE[name]().fit(base)
    test = _fault(_baseline(seed=13), "flow", 5.0)
    np.testing.assert_array_equal(a.score_samples(test), b.score_samples(test))
    for k in base:
        np.testing.assert_array_equal(base[k], frozen[k])
    as_array = np.column_stack([base[k] for k in NAMES])
    array_copy = as_array.copy()
    on_array = MULTIVARIATE[name]()
    if isinstance(on_array, Mewma):
        on_array.set_params(rate_signals=("x2",))  # a plain array's columns are named x0, x1, ...
    on_array.fit(as_array).score_samples(as_array)
    np.testing.assert_array_equal(as_array, array_copy)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.score_samples(test), a.score_samples(test))


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_multivariate_alarm_names_the_faulty_signal(name: str) -> None:
    detector = MULTIVARIATE[name]().fit(_baseline())
    faulty = _fault(_baseline(seed=14), "vibration", 1.0)  # 20 standard deviations
    if name == "isolation_forest":
        # A forest isolates a row that is extreme in one of four signals no sooner than the baseline's own
        # multi-signal extremes, so it only sees gross faults; that is why it scores poorly on SKAB too.
        faulty = _fault(_fault(_fault(faulty, "flow", 4.0), "pressure", 0.4), "temp", 0.3)
    assert detector.predict(faulty)[-30:].mean() > 0.5
    alarms = detector.alarms(faulty)
    assert alarms and alarms[-1][0] == 499
    alarm = alarms[-1][1]
    assert alarm.top(1) == ("vibration",) and alarm.severity > 1
    assert abs(sum(share for _, share in alarm.contributions) - 1) < 1e-3


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_multivariate_signals_extra_missing_nan(name: str) -> None:
    detector = MULTIVARIATE[name]().fit(_baseline())
    test = _baseline(seed=15)
    extra = {**test, "spindle_speed": np.ones(500)}
    np.testing.assert_array_equal(detector.score_samples(extra), detector.score_samples(test))
    missing = {k: v for k, v in test.items() if k != "pressure"}
    with pytest.raises(SignalMismatch, match="pressure"):
        detector.score_samples(missing)
    with pytest.raises(SignalMismatch, match="expected 4 columns"):
        detector.score_samples(np.zeros((3, 5)))
    with_nan = {k: v.copy() for k, v in test.items()}
    with_nan["flow"][10] = np.nan
    with pytest.raises(SignalMismatch, match="flow"):
        detector.score_samples(with_nan)
    tolerant = MULTIVARIATE[name](missing="impute").fit(_baseline())
    assert np.isfinite(tolerant.score_samples(missing)).all()
    assert np.isfinite(tolerant.score_samples(with_nan)).all()


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_multivariate_refuses_to_score_before_fit(name: str) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        MULTIVARIATE[name]().score_samples(_baseline())


def test_mewma_online_in_blocks_equals_all_at_once() -> None:
    stream = _fault(_baseline(seed=16), "flow", 2.0)
    whole = MULTIVARIATE["mewma"]().fit(_baseline())
    expected = whole.update(stream)
    chunked = MULTIVARIATE["mewma"]().fit(_baseline())
    got = np.concatenate([chunked.update({k: v[a:b] for k, v in stream.items()})
                          for a, b in [(0, 1), (1, 2), (2, 333), (333, 500)]])
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert (expected[-30:] > whole.threshold_).all()
    explained = MULTIVARIATE["mewma"]().fit(_baseline())
    scores, parts = explained.update_explained(stream)
    np.testing.assert_allclose(scores, expected, rtol=1e-9)
    assert parts.shape == (500, 4) and NAMES[int(np.argmax(parts[-1]))] == "flow"
    row_by_row = MULTIVARIATE["mewma"]().fit(_baseline())
    rows = np.column_stack([stream[k] for k in NAMES])
    np.testing.assert_allclose([row_by_row.update_one(r) for r in rows], expected, rtol=1e-9)
    with pytest.raises(SignalMismatch, match="NaN"):
        row_by_row.update_one(np.array([1.0, np.nan, 1.0, 1.0]))


def test_mewma_ignores_healthy_drift_of_a_rate_signal() -> None:
    base = _baseline()
    drifted = _baseline(seed=17)
    drifted["temp"] = drifted["temp"] + 3.0  # a warmer day: the level moved, the dynamics did not
    rate = Mewma(alpha=0.3, rate_signals=("temp",), threshold=QuantileThreshold(1.0, 1.5)).fit(base)
    level = Mewma(alpha=0.3, threshold=QuantileThreshold(1.0, 1.5)).fit(base)
    assert rate.predict(drifted).mean() < 0.05 < level.predict(drifted).mean()
