"""A fleet of vehicles (AGVs) moving parts between two places of the flow, dispatched by rule, on batteries.

A dispatcher takes each part waiting at a pickup and gives it to an available vehicle: the one idle
longest (first_idle) or the idle one nearest the pickup (nearest). The vehicle drives empty to the
pickup, loads, drives to the drop-off (the branch the routing or split rule chooses), unloads, hands
the part on (blocked while there is no room) and stays there. Below its battery's low mark it drives to
the charger and charges to the full mark first. Travel takes distance / speed from the distance table;
a leg the table lacks takes one trip of the asset's cycle time. Failures' clocks run while driving.

Each vehicle is a server of the station: producing while driving or loading, starved while waiting for
a part, blocked at a full drop-off, idle while charging (reason ``charging``).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import simpy

from plantmodel.plant import Asset
from simulators.flow.buffer import Buffer
from simulators.flow.parts import Part
from simulators.flow.station import BLOCKED, IDLE, PRODUCING, STARVED, Station

if TYPE_CHECKING:
    from simulators.flow.context import StationContext

Process = Generator[simpy.Event, Any, Any]
CHARGER = "charger"


class Fleet(Station):
    def __init__(self, line: StationContext, asset: Asset, rng: np.random.Generator, inbound: Buffer | None,
                 outbound: Any) -> None:
        super().__init__(line, asset, rng, inbound, outbound)
        spec = asset.config.sim.fleet
        assert spec is not None
        self.spec = spec
        self.distance: dict[tuple[str, str], float] = {}
        for d in spec.distances:
            a, b = d.between
            self.distance[(a, b)] = self.distance[(b, a)] = d.m
        self.location = [""] * self.n  # set at start: the first pickup
        battery = spec.battery
        self.soc_wh = [battery.capacity_wh * battery.full_pct / 100 if battery else math.inf] * self.n
        self.idle_since = [0.0] * self.n
        self.available: list[int] = []
        self.mailbox = [simpy.Store(self.env) for _ in range(self.n)]
        self.vehicle_free: simpy.Event = self.env.event()
        self.trips = [0] * self.n
        self.charges = 0
        self.driven_m = 0.0

    def start(self) -> None:
        for k in range(self.n):
            self.location[k] = self.node_in[0]
            self.available.append(k)
            self.env.process(self.vehicle(k))
        self.env.process(self.dispatch())

    # --- dispatching ------------------------------------------------------------------------------
    def dispatch(self) -> Process:
        while True:
            if self.inbound is None:
                part, pickup = self.line.new_part(), self.node_in[0]
            else:
                event = self.inbound.get()
                yield event
                part = event.value
                pickup = getattr(self.inbound, "last", self.node_in[0])
            while not self.available:
                self.vehicle_free = self.env.event()
                yield self.vehicle_free
            k = self.choose(pickup)
            self.available.remove(k)
            self.mailbox[k].put((part, pickup))

    def choose(self, pickup: str) -> int:
        if self.spec.dispatch == "nearest":
            return min(self.available, key=lambda k: (self.distance.get((self.location[k], pickup),
                                                                        0.0 if self.location[k] == pickup else
                                                                        math.inf), self.idle_since[k], k))
        return min(self.available, key=lambda k: (self.idle_since[k], k))

    def free(self, k: int) -> None:
        self.idle_since[k] = self.env.now
        self.available.append(k)
        if not self.vehicle_free.triggered:
            self.vehicle_free.succeed()

    # --- one vehicle --------------------------------------------------------------------------------
    def travel_s(self, a: str, b: str) -> float:
        if a == b:
            return 0.0
        metres = self.distance.get((a, b))
        if metres is None:
            return self.draw_cycle() / self.speed
        self.driven_m += metres
        return metres / self.spec.speed_m_s / self.speed

    def drive(self, k: int, a: str, b: str) -> Process:
        t = self.travel_s(a, b)
        battery = self.spec.battery
        if battery is not None:
            self.soc_wh[k] -= battery.consumption_wh_per_m * self.distance.get((a, b), 0.0)
        if t > 0:
            clocks = [c for c in self.clocks[k] if not c.by_cycles]
            yield from self.operate(k, t, clocks)
        self.location[k] = b

    def vehicle(self, k: int) -> Process:
        box = self.mailbox[k]
        while True:
            event = box.get()
            if not event.triggered:
                self.wait_on(k, STARVED)
                yield event
                self.waiting[k] = None
            part, pickup = cast(tuple[Part, str], event.value)
            while not self.line.calendar.open:
                self.set_state(k, IDLE, self.line.calendar.reason)
                yield self.line.calendar.reopened
            self.set_state(k, PRODUCING)
            yield from self.drive(k, self.location[k], pickup)
            if self.spec.load_s:
                yield self.env.timeout(self.spec.load_s)
            target, drop = self.destination(part)
            yield from self.drive(k, pickup, drop)
            if self.spec.load_s:
                yield self.env.timeout(self.spec.load_s)
            self.good += 1
            self.trips[k] += 1
            if self.line.watching:
                self.line.part_event(self, "good", self.good)
            if target is None:
                self.line.finish(part)
            else:
                put = target.put(part)
                if not put.triggered:
                    self.wait_on(k, BLOCKED)
                    yield put
                    self.waiting[k] = None
            yield from self.charge_if_low(k)
            self.set_state(k, STARVED)
            self.free(k)

    def destination(self, part: Part) -> tuple[Any, str]:
        out = self.outbound
        if out is None:
            return None, self.node_out[0]
        if hasattr(out, "choose"):  # a router to several buffers (simulators.flow.network)
            router: Any = out
            i = router.choose(part)
            return router.targets[i], router.names[i]
        return out, self.node_out[0]

    def charge_if_low(self, k: int) -> Process:
        battery = self.spec.battery
        if battery is None or self.soc_wh[k] >= battery.capacity_wh * battery.low_pct / 100:
            return
        self.set_state(k, PRODUCING)
        yield from self.drive(k, self.location[k], CHARGER)
        self.set_state(k, IDLE, "charging")
        self.charges += 1
        full = battery.capacity_wh * battery.full_pct / 100
        yield self.env.timeout(max(0.0, full - self.soc_wh[k]) / battery.charge_w * 3600.0)
        self.soc_wh[k] = full
