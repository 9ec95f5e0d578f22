"""Failure clocks: operation-dependent, counting operating seconds or cycles down to the next failure."""

from __future__ import annotations

import numpy as np

from plantmodel.simulation import FailureMode
from simulators.distributions import sampler


class FailureClock:
    __slots__ = ("by_cycles", "draw_ttf", "draw_ttr", "left", "reason")

    def __init__(self, mode: FailureMode, rng: np.random.Generator) -> None:
        self.reason = mode.reason
        self.by_cycles = mode.basis == "cycles"
        self.draw_ttf = sampler(mode.ttf, rng)
        self.draw_ttr = sampler(mode.ttr, rng)
        self.left = self.draw_ttf()

    def renew(self) -> None:
        self.left = self.draw_ttf()
