"""Samplers for the configured distributions: closures over one random stream, cheap on the hot path.

Means are preserved exactly: lognormal and Weibull are parameterised by their mean (and CV or shape),
a normal is truncated at zero by resampling (so only a very wide normal moves its mean).

>>> import numpy as np
>>> from plantmodel.simulation import Distribution
>>> draw = sampler(Distribution(kind="fixed", mean=2.5), np.random.default_rng(1))
>>> draw(), draw()
(2.5, 2.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from plantmodel.simulation import Distribution

Sampler = Callable[[], float]


def sampler(dist: Distribution, rng: np.random.Generator) -> Sampler:
    kind, mean = dist.kind, dist.mean or 0.0
    if kind == "fixed" or (kind in ("normal", "lognormal") and dist.cv == 0):
        return lambda: mean
    if kind == "exponential":
        exponential = rng.exponential
        return lambda: exponential(mean)
    if kind == "normal":
        sd = dist.cv * mean
        normal = rng.normal

        def draw_normal() -> float:
            while True:
                x = normal(mean, sd)
                if x >= 0:
                    return x

        return draw_normal
    if kind == "lognormal":
        sigma = math.sqrt(math.log1p(dist.cv * dist.cv))
        mu = math.log(mean) - sigma * sigma / 2
        lognormal = rng.lognormal
        return lambda: lognormal(mu, sigma)
    if kind == "weibull":
        scale = mean / math.gamma(1 + 1 / dist.shape)
        weibull, shape = rng.weibull, dist.shape
        return lambda: scale * weibull(shape)
    if kind == "geometric":
        p = 1 / mean
        geometric = rng.geometric
        return lambda: float(geometric(p))
    if kind == "empirical":
        assert dist.values is not None
        values = np.asarray(dist.values, dtype=float)
        integers, n = rng.integers, len(values)
        return lambda: float(values[integers(n)])
    raise ValueError(f"unknown distribution kind {kind!r}")
