"""A finite FIFO between two stations, with blocking after service.

Capacity 0 is an exact direct hand-over: a finished part is taken only when the next machine is waiting
for one, so the upstream machine holds it (blocked) until then. Capacity None is unlimited.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import simpy


class Buffer(simpy.Store):
    def __init__(self, env: simpy.Environment, capacity: int | None) -> None:
        super().__init__(env, capacity=max(capacity or 1, 1))
        self.limit = math.inf if capacity is None else capacity
        self.on_level: Callable[[int], None] | None = None  # told the level after every change, if set

    def _do_put(self, event: Any) -> None:
        # A waiting taker is a place to put the part: that is what makes capacity 0 a hand-over.
        if len(self.items) < self.limit + len(self.get_queue):
            self.items.append(event.item)
            event.succeed()
            if self.on_level is not None:
                self.on_level(len(self.items))

    def _do_get(self, event: Any) -> None:
        if self.items:
            event.succeed(self.items.pop(0))
            if self.on_level is not None:
                self.on_level(len(self.items))

    def get(self) -> Any:
        event = super().get()
        if not event.triggered and self.put_queue:
            self._trigger_put(None)  # simpy retries puts only after a get succeeds; a waiting taker must too
        return event
