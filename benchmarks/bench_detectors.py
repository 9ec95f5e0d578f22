"""`factory-twin bench detectors`: samples scored per second per detector, and the size of each model.

Streaming detectors are timed three ways: one value at a time (`score_one` + `learn_one`, the per-sample
Python cost), in live micro-batches of `block` values (`score_learn_many`, how the twin feeds them) and as one
batch. Multivariate ones: the online MEWMA row by row and in blocks, every model batched. One process, one core.
"""

from __future__ import annotations

import pickle
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from analytics.anomaly import (
    EwmaResidual,
    IsolationForestDetector,
    Mewma,
    OutOfRange,
    PcaMonitor,
    QuantileThreshold,
    RateOfChange,
    RollingRobustZ,
    StreamingDetector,
    StuckValue,
    Thresholded,
)

STREAMING: dict[str, Callable[[], StreamingDetector]] = {
    "ewma-residual": lambda: EwmaResidual(alpha=0.01),
    "robust-z": lambda: RollingRobustZ(window=60),
    "rate-of-change": lambda: RateOfChange(alpha=0.01),
    "stuck-value": lambda: StuckValue(patience=30),
    "out-of-range": lambda: OutOfRange(low=-5.0, high=5.0),
    "thresholded-ewma": lambda: Thresholded(EwmaResidual(alpha=0.01), calibration=500),
}
SIGNALS = 8


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds) if seconds > 0 else float("inf")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _model_bytes(model: object) -> int:
    return len(pickle.dumps(model))


def _row_by_row(model: Mewma, rows: np.ndarray) -> None:
    for r in rows:
        model.update_one(r)


def _in_blocks(model: Mewma, rows: np.ndarray, block: int) -> None:
    for i in range(0, len(rows), block):
        model.update(rows[i:i + block])


def streaming(samples: int, block: int, rng: np.random.Generator) -> dict[str, Any]:
    x = rng.normal(size=samples)
    one_at_a_time = x[: min(samples, 50_000)]
    out: dict[str, Any] = {}
    for name, make in STREAMING.items():
        d = make()

        def per_sample(d: StreamingDetector = d) -> None:
            for v in one_at_a_time.tolist():
                d.score_one(v)
                d.learn_one(v)

        def micro_batches(d: StreamingDetector) -> None:
            for i in range(0, samples, block):
                d.score_learn_many(x[i:i + block])

        per_sample_s = _timed(per_sample)
        micro_s = _timed(partial(micro_batches, make()))
        d = make()
        batch_s = _timed(partial(d.score_learn_many, x))
        out[name] = {"per_sample_per_s": _rate(len(one_at_a_time), per_sample_s),
                     "streaming_per_s": _rate(samples, micro_s), "batched_per_s": _rate(samples, batch_s),
                     "model_bytes": _model_bytes(d)}
    return out


def multivariate(samples: int, block: int, rng: np.random.Generator) -> dict[str, Any]:
    train = rng.normal(size=(2000, SIGNALS))
    test = rng.normal(size=(samples, SIGNALS))
    models: dict[str, Callable[[], Any]] = {
        "mewma": lambda: Mewma(alpha=0.2, rate_signals=("x4", "x5"), threshold=QuantileThreshold(1.0, 2.0)),
        "pca-t2q": lambda: PcaMonitor(n_components=0.9),
        "isolation-forest": lambda: IsolationForestDetector(random_state=0),
    }
    out: dict[str, Any] = {}
    for name, make in models.items():
        tracemalloc.start()
        model = make().fit(train)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        entry: dict[str, Any] = {"batched_per_s": _rate(samples, _timed(partial(model.score_samples, test))),
                                 "model_bytes": _model_bytes(model), "fit_peak_bytes": peak}
        if isinstance(model, Mewma):
            entry["per_sample_per_s"] = _rate(5000, _timed(partial(_row_by_row, model, test[:5000])))
            entry["streaming_per_s"] = _rate(samples, _timed(partial(_in_blocks, model, test, block)))
        out[name] = entry
    return out


def run(samples: int = 1_000_000, block: int = 1000, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {"samples": samples, "block": block, "signals_per_row": SIGNALS,
            "streaming": streaming(samples, block, rng), "multivariate": multivariate(samples // 10, block, rng)}


def table(result: dict[str, Any]) -> str:
    head = f"{'detector':<20}{'1-by-1 /s':>12}{'streaming /s':>14}{'batched /s':>13}{'model bytes':>13}"
    lines = [f"{result['samples']} values, micro-batches of {result['block']}; multivariate rows carry "
             f"{result['signals_per_row']} signals", head, "-" * len(head)]
    for group in ("streaming", "multivariate"):
        for name, r in result[group].items():
            lines.append(f"{name:<20}{r.get('per_sample_per_s', '-'):>12}{r.get('streaming_per_s', '-'):>14}"
                         f"{r['batched_per_s']:>13}{r['model_bytes']:>13}")
    return "\n".join(lines)
