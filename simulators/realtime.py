"""Run line models paced to the wall clock, handing what they observe to the line's interfaces.

A speed factor above 1 runs the plant faster than life; source timestamps stay on the wall clock
(one simulated second lasts 1/speed wall seconds), so the twin's notion of "age" stays meaningful.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from plantmodel.telemetry import Sample
from simulators.line import LineModel

Publish = Callable[[list[Sample]], Awaitable[None]]


async def run_paced(models: Sequence[LineModel], publish: Publish, stop: asyncio.Event, *,
                    speed: float = 1.0, duration_s: float | None = None, tick_s: float = 0.05) -> None:
    """Advance every model to the wall clock each tick until `stop` is set or `duration_s` elapses."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    start_us = time.time_ns() // 1000
    for model in models:
        model.start_us, model.time_scale = start_us, 1.0 / speed
    while True:
        elapsed = loop.time() - begin
        done = duration_s is not None and elapsed >= duration_s
        target = (min(elapsed, duration_s) if duration_s is not None else elapsed) * speed
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
