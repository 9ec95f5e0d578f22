"""Fitting the simulator's distributions to durations seen in a plant's history.

Each candidate family the simulator knows (exponential, normal, lognormal, Weibull) is fitted by maximum
likelihood (scipy.stats), judged by the Kolmogorov-Smirnov test, and the family with the lowest AIC among
those the test does not reject (p >= 0.05) is chosen; when every family is rejected the distribution is
the empirical one (its quantiles, resampled). All durations equal: fixed. The KS p-value is computed
with parameters estimated from the same data, so it is lenient (Lilliefors): a fit that fails it is
certainly poor, one that passes is plausible. The mean's 95 % confidence interval is Student's t.

>>> import numpy as np
>>> fit = fit_duration(np.random.default_rng(1).lognormal(np.log(40), 0.1, 2000))
>>> fit.kind, round(fit.mean), fit.mean_ci95[0] < fit.mean < fit.mean_ci95[1]
('lognormal', 40, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

#: fits use at most this many durations (spread evenly over the history): MLE and KS cost grows with n,
#: and beyond a few thousand the fit no longer changes
MAX_FIT = 4000
P_MIN = 0.05
EMPIRICAL_VALUES = 200


@dataclass(frozen=True)
class DurationFit:
    """A fitted duration: the simulator's distribution (`as_config`) and how much to trust it."""

    kind: str
    mean: float
    n: int
    mean_ci95: tuple[float, float]
    cv: float = 0.0
    shape: float = 1.0
    ks_p: float | None = None
    aic: float | None = None
    values: list[float] | None = None
    tried: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_config(self) -> dict[str, Any]:
        if self.kind == "fixed":
            return {"kind": "fixed", "mean": _round(self.mean)}
        if self.kind == "empirical":
            return {"kind": "empirical", "values": [_round(v) for v in self.values or []]}
        out: dict[str, Any] = {"kind": self.kind, "mean": _round(self.mean)}
        if self.kind in ("normal", "lognormal"):
            out["cv"] = _round(self.cv)
        if self.kind == "weibull":
            out["shape"] = _round(self.shape)
        return out

    def report(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("values")
        out["mean_ci95"] = list(self.mean_ci95)
        return out


def _round(x: float) -> float:
    return float(f"{x:.5g}")


def mean_ci(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    m = float(np.mean(x))
    if n < 2:
        return (m, m)
    half = float(stats.t.ppf(0.975, n - 1) * np.std(x, ddof=1) / math.sqrt(n))
    return (m - half, m + half)


def _thin(x: np.ndarray) -> np.ndarray:
    if len(x) <= MAX_FIT:
        return x
    return x[np.linspace(0, len(x) - 1, MAX_FIT).astype(int)]


def _candidates(x: np.ndarray) -> dict[str, tuple[Any, tuple[float, ...], dict[str, float]]]:
    """family -> (frozen scipy distribution, fitted parameters, the simulator's parameters)."""
    m, sd = float(np.mean(x)), float(np.std(x))
    out: dict[str, tuple[Any, tuple[float, ...], dict[str, float]]] = {}
    out["exponential"] = (stats.expon(0, m), (0.0, m), {"mean": m})
    out["normal"] = (stats.norm(m, sd), (m, sd), {"mean": m, "cv": sd / m})
    if np.all(x > 0):
        s, _, scale = stats.lognorm.fit(x, floc=0)
        d = stats.lognorm(s, 0, scale)
        out["lognormal"] = (d, (s, 0.0, scale), {"mean": float(d.mean()), "cv": float(d.std() / d.mean())})
        c, _, scale = stats.weibull_min.fit(x, floc=0)
        d = stats.weibull_min(c, 0, scale)
        out["weibull"] = (d, (c, 0.0, scale), {"mean": float(d.mean()), "shape": float(c)})
    return out


def fit_duration(samples: Any, families: tuple[str, ...] = ("exponential", "normal", "lognormal", "weibull")
                 ) -> DurationFit:
    """The best of `families` for these durations (seconds, or cycles), or the empirical distribution."""
    x = np.asarray(samples, dtype=float)
    x = x[np.isfinite(x) & (x >= 0)]
    if len(x) == 0:
        raise ValueError("no durations to fit")
    n, ci = len(x), mean_ci(x)
    m = float(np.mean(x))
    if n == 1 or float(np.std(x)) <= 1e-9 * max(m, 1e-12):
        return DurationFit("fixed", m, n, ci)
    xf = _thin(x)
    tried: dict[str, dict[str, float]] = {}
    best: tuple[float, str, dict[str, float], float] | None = None
    for kind, (dist, params, sim) in _candidates(xf).items():
        if kind not in families:
            continue
        p = float(stats.kstest(xf, dist.cdf).pvalue)
        aic = float(2 * len(params) - 2 * np.sum(dist.logpdf(xf)))
        tried[kind] = {"ks_p": p, "aic": aic, **sim}
        if p >= P_MIN and math.isfinite(aic) and (best is None or aic < best[0]):
            best = (aic, kind, sim, p)
    if best is None:
        values = np.quantile(x, (np.arange(min(EMPIRICAL_VALUES, n)) + 0.5) / min(EMPIRICAL_VALUES, n))
        return DurationFit("empirical", m, n, ci, values=[float(v) for v in values], tried=tried)
    aic, kind, sim, p = best
    return DurationFit(kind, m, n, ci, cv=sim.get("cv", 0.0), shape=sim.get("shape", 1.0), ks_p=p, aic=aic,
                       tried=tried)


def proportion_ci(k: int, n: int) -> tuple[float, float]:
    """Wilson's 95 % interval of a proportion k / n."""
    if n == 0:
        return (0.0, 1.0)
    z = 1.959964
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate_ci(counts: Any, span_s: float) -> dict[str, Any]:
    """Parts per hour from counts in equal batches of a history: mean and 95 % CI by batch means."""
    c = np.asarray(counts, dtype=float)
    per_hour = c / (span_s / len(c)) * 3600.0
    lo, hi = mean_ci(per_hour)
    return {"mean": float(np.mean(per_hour)), "ci95": [lo, hi], "batches": len(c)}
