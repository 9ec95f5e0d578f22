"""`factory-twin bench nab`: the streaming univariate detectors on the NAB corpus, beside NAB's scoreboard.

Each detector scores every series from its first row (learning as it goes); as NAB prescribes, one threshold
per detector and profile is chosen over the whole corpus, and the first 15 % (at most 750 rows) go unscored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from analytics.anomaly import EwmaResidual, RateOfChange, RollingRobustZ, StreamingDetector, StuckValue
from analytics.scoring import PROFILES, nab_normalised, probation_rows, score_series
from factory_twin.nab_corpus import NabSeries, load_nab

#: NAB v1.1 README scoreboard: standard / reward low FP / reward low FN.
PUBLISHED = {
    "ARTime": (74.9, 65.1, 80.4), "Numenta HTM": (70.5, 62.6, 75.2), "CAD OSE": (69.9, 67.0, 73.2),
    "KNN CAD": (58.0, 43.4, 64.8), "Relative Entropy": (54.6, 47.6, 58.8), "Random Cut Forest": (51.7, 38.4, 59.7),
    "Windowed Gaussian": (39.6, 20.9, 47.4), "Bayesian Changepoint": (17.7, 3.2, 32.2), "random": (11.0, 1.2, 19.5),
    "null": (0.0, 0.0, 0.0),
}
DETECTORS: dict[str, Callable[[], StreamingDetector]] = {
    "ewma-residual": lambda: EwmaResidual(alpha=0.003, warmup=50),
    "robust-z": lambda: RollingRobustZ(window=200, min_samples=50),
    "rate-of-change": lambda: RateOfChange(alpha=0.01, warmup=50),
    "stuck-value": lambda: StuckValue(patience=50),
}
INDUSTRIAL = "realKnownCause/machine_temperature_system_failure.csv"
QUANTILES = np.concatenate((np.linspace(0.5, 0.99, 50), 1 - np.logspace(-2, -5.5, 60)))


def _best_threshold(series: list[NabSeries], scores: list[np.ndarray], profile_name: str) -> tuple[float, float]:
    profile = PROFILES[profile_name]
    scored = np.concatenate([s[probation_rows(len(s)):] for s in scores])
    candidates = np.unique(np.quantile(scored[np.isfinite(scored)], QUANTILES))
    best = (-np.inf, np.inf)
    for threshold in [*candidates, np.inf]:
        results = [score_series(s >= threshold, x.windows, profile, probation_rows(len(s)))
                   for x, s in zip(series, scores, strict=True)]
        value = nab_normalised(results, profile)
        if value > best[0]:
            best = (value, float(threshold))
    return best


def _missed(x: NabSeries, scores: np.ndarray, entry: dict[str, Any]) -> int:
    start = probation_rows(len(scores))
    flags = scores >= entry["standard_threshold"]
    return sum(1 for a, b in x.windows if not flags[max(a, start):b + 1].any())


def run(data: Path) -> dict[str, Any]:
    series = load_nab(data)
    results: dict[str, Any] = {}
    for name, make in DETECTORS.items():
        scores = [np.nan_to_num(make().score_learn_many(x.values), posinf=1e12) for x in series]
        entry: dict[str, Any] = {}
        for profile in PROFILES:
            value, threshold = _best_threshold(series, scores, profile)
            entry[profile] = round(value, 2)
            entry[f"{profile}_threshold"] = threshold
        for x, sc in zip(series, scores, strict=True):
            if x.name == INDUSTRIAL:  # the one industrial series: how many of its failures were caught
                r = score_series(sc >= entry["standard_threshold"], x.windows, PROFILES["standard"],
                                 probation_rows(len(sc)))
                entry["machine_temperature"] = {"windows": r.windows, "detected": r.windows - _missed(x, sc, entry),
                                                "false_alarm_rows": r.fp}
        results[name] = entry
    best = max(results, key=lambda k: results[k]["standard"])
    return {"series": len(series), "windows": sum(len(x.windows) for x in series), "rows": sum(len(x.values)
            for x in series), "detectors": results, "best": best,
            "published": {k: dict(zip(PROFILES, v, strict=True)) for k, v in PUBLISHED.items()}}


def table(result: dict[str, Any]) -> str:
    head = f"{'detector':<24}{'standard':>10}{'low FP':>10}{'low FN':>10}"
    lines = [f"NAB: {result['series']} series, {result['rows']} rows, {result['windows']} windows", head,
             "-" * len(head)]
    for name, r in result["detectors"].items():
        mt = r.get("machine_temperature")
        caught = f"   machine temperature: {mt['detected']}/{mt['windows']} failures caught" if mt else ""
        lines.append(f"{name + (' *' if name == result['best'] else ''):<24}"
                     + "".join(f"{r[p]:>10.1f}" for p in PROFILES) + caught)
    lines.append("published scoreboard:")
    for name, r in result["published"].items():
        lines.append(f"  {name:<22}" + "".join(f"{r[p]:>10.1f}" for p in PROFILES))
    return "\n".join(lines)
