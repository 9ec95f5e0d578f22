"""Failure clocks: operation-dependent, counting operating seconds or cycles down to the next failure."""

from __future__ import annotations

import numpy as np

from plantmodel.simulation import FailureMode
from simulators.distributions import sampler


class FailureClock:
    __slots__ = ("by_cycles", "draw_ttf", "draw_ttr", "drawn", "left", "reason", "wear")

    def __init__(self, mode: FailureMode, rng: np.random.Generator) -> None:
        self.reason = mode.reason
        self.by_cycles = mode.basis == "cycles"
        self.draw_ttf = sampler(mode.ttf, rng)
        self.draw_ttr = sampler(mode.ttr, rng)
        self.wear = mode.wear
        self.left = self.drawn = self.draw_ttf()

    def age(self, seconds: float, tries: int = 1000) -> None:
        """Start as a clock that has already run `seconds` without failing: a life drawn given it exceeds them.

        Rejection sampling; when no draw in `tries` exceeds the age (a life far past its mean) the clock
        starts fresh, which is also exact for the memoryless exponential.
        """
        if self.by_cycles or seconds <= 0:
            return  # cycles since the last failure are not known from the outside
        for _ in range(tries):
            life = self.draw_ttf()
            if life > seconds:
                self.drawn, self.left = life, life - seconds
                return

    def renew(self) -> None:
        self.left = self.drawn = self.draw_ttf()

    @property
    def health(self) -> float:
        """Share of this life used up, 0 (new) to 1 (failing now): what wear signals follow."""
        return 1.0 - self.left / self.drawn if self.drawn > 0 else 1.0
