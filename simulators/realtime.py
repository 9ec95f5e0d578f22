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
from simulators.live_line import LineModel

Publish = Callable[[list[Sample]], Awaitable[None]]


async def run_paced(models: Sequence[LineModel], publish: Publish, stop: asyncio.Event,
                    clock: PlantClock | None = None, *, duration_s: float | None = None, tick_s: float = 0.05,
                    catch_up: float = 2.0, until_s: float | None = None) -> None:
    """Advance every model to the plant clock (default: real time from now) each tick until `stop` is set,
    the line has run `duration_s` wall seconds' worth of plant time past the instant it started at, or it has
    reached `until_s` plant seconds after the origin (an interval fixed in plant time, however late it starts).

    A line that starts after its origin (it waited for its clients) catches up at `catch_up` times its pace
    rather than in one burst, which a broker's queues would not all take.
    """
    clock = clock or PlantClock()
    loop = asyncio.get_running_loop()
    for model in models:
        model.place(clock.origin_us)
    begins = max(0.0, (clock.now_us() - clock.origin_us) / 1e6)
    end = None if duration_s is None else begins + duration_s * clock.speed
    if until_s is not None:
        end = until_s if end is None else min(end, until_s)
    now, last = 0.0, loop.time()
    while True:
        wall = loop.time()
        target = max(0.0, (clock.now_us() - clock.origin_us) / 1e6)
        now = min(target, now + catch_up * clock.speed * max(tick_s, wall - last))
        last = wall
        if end is not None:
            now = min(now, end)
        samples: list[Sample] = []
        for model in models:
            model.run_until(now)
            samples.extend(model.drain())
        if samples:
            await publish(samples)
        if end is not None and now >= end:
            return
        try:
            await asyncio.wait_for(stop.wait(), tick_s)
            return
        except TimeoutError:
            pass
