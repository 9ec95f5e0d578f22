"""Run line models paced to the plant clock, handing what they observe to the line's interfaces.

The models stamp their samples in simulated time, which starts at the clock's origin: at `speed` 10 a
simulated minute lasts six wall seconds, and its samples are stamped a minute apart. Every part told the
same speed and origin reads the same plant time (plantmodel.clock, docs/time.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from plantmodel.clock import PlantClock
from plantmodel.telemetry import Sample
from simulators.line import LineModel

Publish = Callable[[list[Sample]], Awaitable[None]]


async def run_paced(models: Sequence[LineModel], publish: Publish, stop: asyncio.Event,
                    clock: PlantClock | None = None, *, duration_s: float | None = None, tick_s: float = 0.05) -> None:
    """Advance every model to the plant clock (default: real time from now) each tick until `stop` is set or
    `duration_s` wall seconds of simulated time have passed since the origin."""
    clock = clock or PlantClock()
    for model in models:
        model.start_us = clock.origin_us
    end = None if duration_s is None else duration_s * clock.speed
    while True:
        target = max(0.0, (clock.now_us() - clock.origin_us) / 1e6)
        done = end is not None and target >= end
        if end is not None:
            target = min(target, end)
        samples: list[Sample] = []
        for model in models:
            model.run_until(target)
            samples.extend(model.drain())
        if samples:
            await publish(samples)
        if done:
            return
        try:
            await asyncio.wait_for(stop.wait(), tick_s)
            return
        except TimeoutError:
            pass
