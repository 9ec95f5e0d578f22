"""A finite FIFO between two stations, with blocking after service, and the figures a planner asks of it.

Capacity 0 is an exact direct hand-over: a finished part is taken only when the next machine is waiting
for one, so the upstream machine holds it (blocked) until then. Capacity None is unlimited.

Each buffer keeps its own figures over the measured window: mean level, mean wait of the parts taken
from it (queue wait), and the blocking probability, the share of parts offered to it that found it
full (the upstream machine blocked, or an arrival lost).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import simpy
from simpy.resources.store import StoreGet


class Buffer(simpy.Store):
    def __init__(self, env: simpy.Environment, capacity: int | None) -> None:
        super().__init__(env, capacity=max(capacity or 1, 1))
        self.limit = math.inf if capacity is None else capacity
        self.on_level: Callable[[int], None] | None = None  # told the level after every change, if set
        self.arrival: simpy.Event | None = None  # succeeded when a part arrives or a giver waits, if set
        self.reset_stats()

    def reset_stats(self) -> None:
        self.offered = self.blocked = self.taken = 0
        self.wait_sum = 0.0
        self.level_area, self.level_since = 0.0, self._env.now
        self.stats_start = self._env.now

    def _level_changed(self, before: int) -> None:
        now = self._env.now
        self.level_area += before * (now - self.level_since)
        self.level_since = now
        if self.on_level is not None:
            self.on_level(len(self.items))

    def has_room(self) -> bool:
        return len(self.items) < self.limit + len(self.get_queue)

    def ready(self) -> bool:
        """A part can be taken now: one is inside, or a giver waits to hand one over."""
        return bool(self.items or self.put_queue)

    def _do_put(self, event: Any) -> None:
        # A waiting taker is a place to put the part: that is what makes capacity 0 a hand-over.
        if len(self.items) < self.limit + len(self.get_queue):
            self._accept(event.item)
            event.succeed()

    def _accept(self, part: Any) -> None:
        part.entered = self._env.now
        self.items.append(part)
        self._level_changed(len(self.items) - 1)
        self._notify()

    def _notify(self) -> None:
        arrival = self.arrival
        if arrival is not None and not arrival.triggered:
            self.arrival = None
            arrival.succeed()

    def _do_get(self, event: Any) -> Any:
        if self.items:
            self._hand(event, self.items.pop(0))
        return None

    def _hand(self, event: Any, part: Any) -> None:
        waited = self._env.now - part.entered
        part.waited += waited
        self.wait_sum += waited
        self.taken += 1
        event.succeed(part)
        self._level_changed(len(self.items) + 1)

    # simpy's Store.put(item) itself departs from BaseResource.put() (simpy's hints ignore [override] there too)
    def put(self, item: Any) -> Any:  # type: ignore[override]
        self.offered += 1
        event = super().put(item)
        if not event.triggered:
            self.blocked += 1
            self._notify()  # a giver waits: an assembly station may now take all it needs
        return event

    def put_back(self, part: Any) -> None:
        """A reworked part returns: it always finds a place (a loop into a full buffer would deadlock the
        line), even beyond the capacity, as on the rework cart or conveyor that brings it."""
        self.offered += 1
        part.lane = self.lane_for(part)
        self._accept(part)
        self._trigger_get(None)

    def lane_for(self, part: Any) -> int:
        return 0

    def get(self) -> Any:
        event = super().get()
        if not event.triggered and self.put_queue:
            self._trigger_put(None)  # simpy retries puts only after a get succeeds; a waiting taker must too
        return event

    def arrived(self) -> simpy.Event:
        """An event for the next part to arrive (or giver to wait)."""
        if self.arrival is None:
            self.arrival = self._env.event()
        return self.arrival

    def stats(self) -> dict[str, float]:
        """Counts and sums over the measured window (since the last `reset_stats`)."""
        now = self._env.now
        area = self.level_area + len(self.items) * (now - self.level_since)
        return {"offered": self.offered, "blocked": self.blocked, "taken": self.taken,
                "wait_sum_s": self.wait_sum, "level_mean": area / (now - self.stats_start) if now > self.stats_start
                else 0.0}


class LaneGet(StoreGet):
    """A take from one lane of a split buffer."""

    def __init__(self, resource: SplitBuffer, lane: int) -> None:
        self.lane = lane
        super().__init__(resource)


class SplitBuffer(Buffer):
    """A buffer feeding several branches: each part is given a lane as it enters, by routing or by rule.

    Round robin takes lanes in turn, random draws one, shortest queue takes the lane with the fewest
    parts waiting or in its machine. Capacity is shared; a branch's machine takes only from its lane.
    """

    def __init__(self, env: simpy.Environment, capacity: int | None, rule: str, lanes: list[str],
                 rng: Any) -> None:
        super().__init__(env, capacity)
        self.rule, self.lane_ids, self.rng = rule, lanes, rng
        self.turn = 0
        self.busy: list[Callable[[], int]] = [lambda: 0] * len(lanes)  # parts each branch's machine holds

    def lane_for(self, part: Any) -> int:
        if part.route is not None:
            named = [i for i, lane in enumerate(self.lane_ids) if lane in part.route]
            if len(named) == 1:
                return named[0]
        n = len(self.lane_ids)
        if self.rule == "round_robin":
            self.turn = (self.turn + 1) % n
            return self.turn
        if self.rule == "random":
            return int(self.rng.integers(n))
        counts = [0] * n
        for item in self.items:
            counts[item.lane] += 1
        return min(range(n), key=lambda i: (counts[i] + self.busy[i](), i))

    def _do_put(self, event: Any) -> None:
        if len(self.items) < self.limit:
            event.item.lane = self.lane_for(event.item)
            self._accept(event.item)
            event.succeed()

    def _do_get(self, event: Any) -> Any:
        for i, item in enumerate(self.items):
            if item.lane == event.lane:
                del self.items[i]
                self._hand(event, item)
                break
        return True  # later takers may want another lane

    def lane(self, i: int) -> Lane:
        return Lane(self, i)


class Lane:
    """What one branch's machine sees of a split buffer: a store holding its lane's parts."""

    def __init__(self, parent: SplitBuffer, index: int) -> None:
        self.parent, self.index = parent, index

    def get(self) -> Any:
        return LaneGet(self.parent, self.index)

    def ready(self) -> bool:
        return any(p.lane == self.index for p in self.parent.items)

    def arrived(self) -> simpy.Event:
        return self.parent.arrived()

    @property
    def items(self) -> list[Any]:
        return [p for p in self.parent.items if p.lane == self.index]
