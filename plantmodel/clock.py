"""Plant time: the one time base of every part (see docs/time.md).

Every timestamp a source puts on a sample is plant time, and every part that compares with "now" (the
historian's window for future timestamps, the twin's ages, the running OEE window, alert escalation,
shelving and flood windows) asks a `Clock` for plant time, never the machine's wall clock.

For a real plant, plant time is wall time. A simulator may run faster than life: it stamps its samples in
simulated time, which starts at the run's `origin` (a wall-clock instant) and advances `speed` simulated
seconds per wall second. Every receiver told the same speed and origin (the demo tells all its parts) then
reads the same plant clock, a function of its own wall clock alone: no timestamp a source sends, forged or
not, can move it. Durations configured anywhere (ideal cycle times, repair times, on-delays, windows,
horizons) are plant seconds, so they hold at any speed.

>>> clock = PlantClock(speed=10, origin_us=1_000_000_000_000_000, wall_us=lambda: 1_000_000_060_000_000)
>>> clock.now_us() - 1_000_000_000_000_000  # a wall minute after the origin: ten plant minutes
600000000
>>> clock.wall_seconds(600.0)
60.0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from plantmodel.telemetry import from_micros, to_micros


class Clock(Protocol):
    """Where a part gets plant time."""

    def now(self) -> datetime: ...

    def now_us(self) -> int: ...

    def wall_seconds(self, plant_s: float) -> float: ...

    def wall_us_of(self, plant_us: int) -> int: ...


def wall_us() -> int:
    return time.time_ns() // 1000


class PlantClock:
    """Plant time read from the wall clock: `origin + speed × (wall − origin)`; wall time itself at speed 1."""

    def __init__(self, speed: float = 1.0, origin_us: int | None = None,
                 wall_us: Callable[[], int] = wall_us) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be above 0, got {speed}")
        self.speed, self._wall = speed, wall_us
        self.origin_us = wall_us() if origin_us is None else origin_us

    def now_us(self) -> int:
        w = self._wall()
        return w if self.speed == 1 else self.origin_us + round((w - self.origin_us) * self.speed)

    def now(self) -> datetime:
        return from_micros(self.now_us())

    def wall_seconds(self, plant_s: float) -> float:
        """How long `plant_s` plant seconds last on the wall clock (for pacing and sleeping)."""
        return plant_s / self.speed

    def wall_us_of(self, plant_us: int) -> int:
        """The wall-clock instant at which the plant clock reads `plant_us`."""
        return plant_us if self.speed == 1 else self.origin_us + round((plant_us - self.origin_us) / self.speed)


class ManualClock:
    """Stands still until moved: tests, replays and benchmarks drive plant time by hand."""

    speed = 1.0

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def now_us(self) -> int:
        return to_micros(self._now)

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at

    def wall_seconds(self, plant_s: float) -> float:
        return plant_s

    def wall_us_of(self, plant_us: int) -> int:
        return plant_us


def _blank_is_none(v: Any) -> Any:
    return None if isinstance(v, str) and not v.strip() else v


class ClockConfig(BaseModel):
    """`clock:` of the agent's and the twin's configuration: the plant clock's speed and origin.

    Leave both out for a real plant. For a simulated one running at `--speed S`, give the same speed and the
    simulator's origin (`factory-twin sim serve` prints both; the demo sets them for all its parts).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float = Field(1.0, gt=0, le=10_000, description="plant seconds per wall second (a simulator's --speed)")
    origin: Annotated[datetime | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="the wall-clock instant at which plant time began (a simulator's start); "
                          "needed when speed is not 1")

    def clock(self, wall: Callable[[], int] = wall_us) -> PlantClock:
        origin = to_micros(self.origin) if self.origin is not None else None
        return PlantClock(self.speed, origin, wall)
