"""Stations: machines (one or several in parallel) that take parts, change over, fail, make good parts or scrap.

A server's loop: take a part (or a batch) from upstream (starved while none), wait for the shift to
open (planned stop), change over if the product type changed (setup), process it (producing; a failure
interrupts the cycle and the machine is down until repaired, then finishes it), judge each part (good,
scrap, or rework then good), and hand good parts downstream (blocked while there is no room).

Failures are operation-dependent: their clocks run only while the server is producing. Micro-stops
lengthen a cycle and stay inside producing time (a performance loss, as in the six big losses).
A part waiting for a break to end stays in the machine.

State time is kept per server and summed per station (a station of `parallel` machines has
`parallel` times the horizon to share among states).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from plantmodel.catalog import AssetRole
from plantmodel.plant import Asset
from plantmodel.simulation import Distribution, FailureMode
from plantmodel.telemetry import AssetState
from simulators.distributions import Sampler, sampler
from simulators.flow.buffer import Buffer
from simulators.flow.failures import FailureClock
from simulators.flow.parts import Part

if TYPE_CHECKING:
    from simulators.flow.context import StationContext

Process = Generator[simpy.Event, Any, Any]
PRODUCING, STARVED, BLOCKED, DOWN = AssetState.PRODUCING, AssetState.STARVED, AssetState.BLOCKED, AssetState.DOWN
SETUP, PLANNED, IDLE = AssetState.SETUP, AssetState.PLANNED_STOP, AssetState.IDLE
ACTIVE = frozenset({PRODUCING, DOWN, SETUP})  # states of the active-period bottleneck method


def cycle_distribution(asset: Asset) -> Distribution:
    sim = asset.config.sim
    if sim.cycle_time is not None:
        return sim.cycle_time
    mean = sim.cycle_time_s or asset.config.ideal_cycle_time_s or 1.0
    if asset.role is AssetRole.TRANSPORT:  # one trip; the live model draws it uniformly in [0.95, 1.1] x
        return Distribution(kind="normal", mean=mean * 1.025, cv=0.043)
    return Distribution(kind="lognormal", mean=mean, cv=sim.cycle_time_cv)


def failure_modes(asset: Asset) -> list[FailureMode]:
    sim = asset.config.sim
    modes = list(sim.failures)
    if sim.mtbf_s:
        modes.append(FailureMode(reason="F-GENERIC", ttf=Distribution(kind="exponential", mean=sim.mtbf_s),
                                 ttr=Distribution(kind="exponential", mean=sim.mttr_s)))
    return modes


class Station:
    def __init__(self, line: StationContext, asset: Asset, rng: np.random.Generator, inbound: Buffer | None,
                 outbound: Buffer | None) -> None:
        sim = asset.config.sim
        self.line, self.env, self.asset, self.rng = line, line.env, asset, rng
        self.id, self.path = asset.id, asset.path
        self.inbound, self.outbound = inbound, outbound
        self.n = sim.fleet.vehicles if sim.fleet is not None else sim.parallel
        self.batch = sim.batch_size
        self.ideal_cycle_s = asset.config.ideal_cycle_time_s or 1.0
        self.draw_cycle = sampler(cycle_distribution(asset), rng)
        self.product_cycle: dict[str, Sampler] = {
            p.id: sampler(p.cycle_times[self.id], rng) for p in line.products if self.id in p.cycle_times}
        self.draw_setup = sampler(sim.setup_time, rng) if sim.setup_time else None
        self.draw_rework = sampler(sim.rework_time, rng) if sim.rework_time else None
        self.micro_p = sim.micro_stops.probability if sim.micro_stops else 0.0
        self.draw_micro = sampler(sim.micro_stops.duration, rng) if sim.micro_stops else None
        self.scrap_p, self.rework_p = sim.scrap_rate, sim.rework_rate
        self.operator_for = frozenset(sim.operator_for)
        self.tool_life, self.tool_scrap = sim.tool_life_parts, sim.tool_scrap_at_end
        self.tool_change_s = sim.tool_change_s
        self.tool_used = [0] * self.n
        modes = failure_modes(asset)
        # Each failure clock draws from its own stream (spawned, so the station's own draws are untouched): a
        # renewal or a failure that happens in one variant and not another shifts no cycle or scrap draw, and
        # variants of a decision stay paired (common random numbers).
        seq = rng.bit_generator.seed_seq
        assert isinstance(seq, np.random.SeedSequence)  # what np.random.default_rng makes
        self.clocks = [[FailureClock(m, np.random.default_rng(seq.spawn(1)[0])) for m in modes]
                       for _ in range(self.n)]
        self.random = rng.random
        # accounting
        now = self.env.now
        self.state = [IDLE] * self.n
        self.since = [now] * self.n
        self.waiting: list[AssetState | None] = [None] * self.n  # starved/blocked while waiting on a buffer
        self.last_product: list[str | None] = [None] * self.n
        self.active_since = [0.0] * self.n
        self.time: dict[AssetState, float] = dict.fromkeys(AssetState, 0.0)
        self.reset_counters()
        line.calendar.listeners.append(self.on_calendar)
        # Set from outside: a repair already under way when the run starts, and a controller's commands.
        self.initial_repair_s: float | None = None
        self.speed = 1.0  # share of the programmed feed rate (a CNC's override): cycles take 1/speed as long
        self.wear_scale = 1.0  # how fast wear-out clocks run per operating second (slower at reduced speed)
        self.held: simpy.Event | None = None  # stopped for maintenance until this event
        self.resets: list[simpy.Event | None] = [None] * self.n  # an alarm reset ends that server's repair
        self.planned_maintenance = 0  # wear parts replaced in planned maintenance (planning.decide), never reset
        # Where it sits in the network (set by simulators.flow.network): its inputs, the places parts come
        # from and go to (a vehicle's pickups and drop-offs), and the buffer reworked parts go back to.
        self.assemble = sim.merge == "assemble"
        self.inputs: list[Any] = [inbound] if inbound is not None else []
        self.node_in: list[str] = ["supply"]
        self.node_out: list[str] = ["exit"]
        self.rework_store: Buffer | None = None
        self.rework_limit = sim.rework_limit

    def reset_counters(self) -> None:
        self.flush(self.env.now)
        self.time = dict.fromkeys(AssetState, 0.0)
        self.good = self.scrap = self.rework = 0
        self.failures = 0
        self.failed_by: dict[str, int] = {}
        self.active_sum, self.active_count = 0.0, 0

    def flush(self, now: float) -> None:
        """Book the time of every server's current state up to now (before a reset or a report)."""
        for k in range(self.n):
            self.time[self.state[k]] += now - self.since[k]
            self.since[k] = now

    def start(self) -> None:
        for k in range(self.n):
            self.env.process(self.serve(k))

    # --- state keeping -------------------------------------------------------------------------
    def set_state(self, k: int, new: AssetState, reason: str | None = None) -> None:
        old = self.state[k]
        if new is old:
            return
        now = self.env.now
        self.time[old] += now - self.since[k]
        self.since[k] = now
        self.state[k] = new
        if new in ACTIVE:
            if old not in ACTIVE:
                self.active_since[k] = now
        elif old in ACTIVE:
            self.active_sum += now - self.active_since[k]
            self.active_count += 1
        if self.line.watching:
            self.line.record_state(self, k, old, new, reason)

    def wait_on(self, k: int, state: AssetState) -> None:
        self.waiting[k] = state
        cal = self.line.calendar
        self.set_state(k, state if cal.open else PLANNED, None if cal.open else cal.reason)

    def on_calendar(self, is_open: bool) -> None:
        reason = self.line.calendar.reason
        for k in range(self.n):
            waiting = self.waiting[k]
            if waiting is not None:
                self.set_state(k, waiting if is_open else PLANNED, None if is_open else reason)

    # --- the server loop -------------------------------------------------------------------------
    def serve(self, k: int) -> Process:
        # The common cases (one part, nothing to judge, room downstream) are inlined: this loop is the hot path.
        env, line = self.env, self.line
        cal = line.calendar
        clocks = self.clocks[k]
        time_clocks = [c for c in clocks if not c.by_cycles]
        cycle_clocks = [c for c in clocks if c.by_cycles]
        inbound = self.inbound
        single = self.batch == 1 and type(self).take is Station.take and not self.assemble
        judged = bool(self.scrap_p or self.rework_p or self.tool_life)
        plain_hand_on = type(self).hand_on is Station.hand_on
        if k == 0 and self.initial_repair_s is not None:
            yield from self.initial_repair(k, self.initial_repair_s)
        while True:
            if single and inbound is not None:
                event = inbound.get()
                if not event.triggered:
                    self.wait_on(k, STARVED)
                    yield event
                    self.waiting[k] = None
                part = event.value
                if part.route is not None and self.id not in part.route:
                    yield from self.hand_on(k, [part])
                    continue
                parts = [part]
            else:
                parts = yield from self.take(k)
            while not cal.open:
                self.set_state(k, PLANNED, cal.reason)
                yield cal.reopened
            while self.held is not None:
                self.set_state(k, PLANNED, "maintenance")
                yield self.held
            product = part.product if single and inbound is not None else parts[0].product
            if self.draw_setup is not None and self.last_product[k] not in (None, product):
                yield from self.changeover(k)
            self.last_product[k] = product
            for clock in cycle_clocks:
                clock.left -= 1
                if clock.left <= 0:
                    yield from self.repair(k, clock)
                    clock.renew()
            request = None
            if "cycle" in self.operator_for:
                request = yield from self.operator(k, IDLE)
            if self.state[k] is not PRODUCING:
                self.set_state(k, PRODUCING)
            t = self.product_cycle.get(product, self.draw_cycle)() if self.product_cycle else self.draw_cycle()
            if self.micro_p and self.random() < self.micro_p:
                assert self.draw_micro is not None
                t += self.draw_micro()
            if self.speed != 1.0:
                t /= self.speed
            if time_clocks:
                yield from self.operate(k, t, time_clocks)
            else:
                yield env.timeout(t)
            if request is not None:
                line.operators.release(request)
            if judged:
                parts = yield from self.judge(k, parts, time_clocks)
            else:
                self.good += len(parts)
                if line.watching:
                    for i in range(len(parts), 0, -1):
                        line.part_event(self, "good", self.good - i + 1)
            out = self.outbound
            if plain_hand_on and len(parts) == 1 and out is not None:
                event = out.put(parts[0])
                if not event.triggered:
                    self.wait_on(k, BLOCKED)
                    yield event
                    self.waiting[k] = None
            else:
                yield from self.hand_on(k, parts)

    def take(self, k: int) -> Generator[simpy.Event, Any, list[Part]]:
        if self.inbound is None:  # unlimited supply
            return [self.line.new_part() for _ in range(self.batch)]
        parts: list[Part] = []
        while len(parts) < self.batch:
            if self.assemble:
                part = yield from self.take_kit(k)
                parts.append(part)
                continue
            event = self.inbound.get()
            if not event.triggered:
                self.wait_on(k, STARVED)
                yield event
                self.waiting[k] = None
            part = event.value
            if part.route is not None and self.id not in part.route:
                yield from self.hand_on(k, [part])  # not on this product's routing: passes straight through
                continue
            parts.append(part)
        return parts

    def take_kit(self, k: int) -> Generator[simpy.Event, Any, Part]:
        """One part from each input, taken together once all are there: the first input's part carries on,
        the others are joined into it (their lives end here)."""
        inputs = self.inputs
        while not all(inp.ready() for inp in inputs):
            self.wait_on(k, STARVED)
            yield simpy.AnyOf(self.env, [inp.arrived() for inp in inputs if not inp.ready()])
            self.waiting[k] = None
        got = []
        for inp in inputs:
            part = yield inp.get()
            got.append(part)
        for part in got[1:]:
            self.line.ledger.join(part)
        return got[0]

    def operate(self, k: int, t: float, clocks: list[FailureClock]) -> Process:
        """Work for `t` operating seconds; failures due in that time interrupt it."""
        env = self.env
        if self.wear_scale != 1.0:
            yield from self.operate_scaled(k, t, clocks)
            return
        if len(clocks) == 1 and clocks[0].left >= t:  # the usual case: no failure in this cycle
            clocks[0].left -= t
            yield env.timeout(t)
            return
        while clocks:
            first = min(clocks, key=lambda c: c.left)
            if first.left >= t:
                break
            step = first.left
            if step > 0:
                yield env.timeout(step)
            t -= step
            for c in clocks:
                c.left -= step
            yield from self.repair(k, first)
            first.renew()
            self.set_state(k, PRODUCING)
        for c in clocks:
            c.left -= t
        yield env.timeout(t)

    def operate_scaled(self, k: int, t: float, clocks: list[FailureClock]) -> Process:
        """`operate` with wear-out clocks running at `wear_scale` per operating second (the others at 1)."""
        rate = {id(c): (self.wear_scale if c.wear else 1.0) for c in clocks}
        while clocks:
            first = min(clocks, key=lambda c: c.left / rate[id(c)])
            step = first.left / rate[id(first)]
            if step >= t:
                break
            if step > 0:
                yield self.env.timeout(step)
            t -= step
            for c in clocks:
                c.left -= step * rate[id(c)]
            yield from self.repair(k, first)
            first.renew()
            self.set_state(k, PRODUCING)
        for c in clocks:
            c.left -= t * rate[id(c)]
        yield self.env.timeout(t)

    def repair(self, k: int, clock: FailureClock) -> Process:
        self.failures += 1
        self.failed_by[clock.reason] = self.failed_by.get(clock.reason, 0) + 1
        self.set_state(k, DOWN, clock.reason)
        if self.line.watching:
            self.line.record_alarm(self, clock.reason, True)
        request = None
        if "repair" in self.operator_for:  # waiting for the maintainer is down time too
            request = yield from self.operator(k, DOWN)
        repaired = self.env.timeout(clock.draw_ttr())
        if self.line.watching:  # a live machine's alarm may be reset, which ends the stop there and then
            self.resets[k] = reset = self.env.event()
            yield repaired | reset
            self.resets[k] = None
        else:
            yield repaired
        if request is not None:
            self.line.operators.release(request)
        if self.line.watching:
            self.line.record_alarm(self, clock.reason, False)

    def initial_repair(self, k: int, seconds: float) -> Process:
        """The rest of a repair that began before the run did (not counted as a failure of the run)."""
        self.set_state(k, DOWN, "down_at_start")
        yield self.env.timeout(seconds)

    # --- a controller's commands (the live model) --------------------------------------------------
    def hold(self, seconds: float) -> None:
        """Stop before the next cycle for `seconds` of maintenance; a machine waiting for parts stops now."""
        if self.held is None:
            self.held = self.env.event()
            for k in range(self.n):
                if self.waiting[k] is not None:
                    self.set_state(k, PLANNED, "maintenance")
        held = self.held

        def release() -> Process:
            yield self.env.timeout(seconds)
            if self.held is held:
                self.held = None
                held.succeed()
                for k in range(self.n):
                    if self.waiting[k] is not None:
                        self.wait_on(k, self.waiting[k])  # type: ignore[arg-type]

        self.env.process(release())

    def reset_alarm(self) -> bool:
        """End every repair under way (the alarm is reset); False when there was none to reset."""
        pending = [e for e in self.resets if e is not None and not e.triggered]
        for event in pending:
            event.succeed()
        return bool(pending)

    def changeover(self, k: int) -> Process:
        assert self.draw_setup is not None
        request = None
        if "setup" in self.operator_for:
            request = yield from self.operator(k, SETUP)
        self.set_state(k, SETUP)
        yield self.env.timeout(self.draw_setup())
        if request is not None:
            self.line.operators.release(request)

    def operator(self, k: int, state: AssetState) -> Generator[simpy.Event, Any, Any]:
        request = self.line.operators.request()
        if not request.triggered:
            self.set_state(k, state, "waiting_for_operator")
            yield request
        return request

    def judge(self, k: int, parts: list[Part], clocks: list[FailureClock]) -> Generator[simpy.Event, Any, list[Part]]:
        good: list[Part] = []
        for part in parts:
            scrap_p = self.scrap_p
            if self.tool_life:  # a worn tool makes more scrap, growing towards the end of its life
                scrap_p += self.tool_scrap * (self.tool_used[k] / self.tool_life) ** 2
                self.tool_used[k] += 1
            u = self.random() if (scrap_p or self.rework_p) else 1.0
            if u < scrap_p:
                self.scrap += 1
                self.line.part_event(self, "scrap", self.scrap)
                self.line.ledger.depart(part, good=False)
                continue
            if u < self.scrap_p + self.rework_p:
                self.rework += 1
                self.line.part_event(self, "rework", self.rework)
                if self.rework_store is not None:  # a rework loop: back upstream, worked again from there
                    part.reworks += 1
                    if self.rework_limit is not None and part.reworks > self.rework_limit:
                        self.scrap += 1
                        self.line.part_event(self, "scrap", self.scrap)
                        self.line.ledger.depart(part, good=False)
                        continue
                    self.rework_store.put_back(part)
                    continue
                t = self.draw_rework() if self.draw_rework else self.draw_cycle()
                yield from self.operate(k, t, clocks)
            else:
                self.good += 1
                self.line.part_event(self, "good", self.good)
            good.append(part)
        if self.tool_life and self.tool_used[k] >= self.tool_life:
            self.set_state(k, SETUP, "tool_change")
            yield self.env.timeout(self.tool_change_s)
            self.tool_used[k] = 0
        return good

    def hand_on(self, k: int, parts: list[Part]) -> Process:
        out = self.outbound
        for part in parts:
            if out is None:
                self.line.finish(part)
                continue
            event = out.put(part)
            if not event.triggered:
                self.wait_on(k, BLOCKED)
                yield event
                self.waiting[k] = None


class Conveyor(Station):
    """A station whose cycle is the loading pitch, after which a part rides the belt for the transport time.

    At most `capacity` parts ride at once; parts that reach the end wait there (on the belt) for room downstream.
    """

    def __init__(self, line: StationContext, asset: Asset, rng: np.random.Generator, inbound: Buffer | None,
                 outbound: Buffer | None) -> None:
        super().__init__(line, asset, rng, inbound, outbound)
        self.belt = simpy.Resource(self.env, capacity=asset.config.capacity or 1)  # type: ignore[arg-type]  # .inf too
        self.transport_s = asset.config.sim.transport_time_s

    def hand_on(self, k: int, parts: list[Part]) -> Process:
        for part in parts:
            slot = self.belt.request()
            if not slot.triggered:
                self.wait_on(k, BLOCKED)
                yield slot
                self.waiting[k] = None
            self.env.process(self.ride(part, slot))

    def ride(self, part: Part, slot: Any) -> Process:
        yield self.env.timeout(self.transport_s)
        if self.outbound is None:
            self.line.finish(part)
        else:
            yield self.outbound.put(part)
        self.belt.release(slot)


class Agv(Station):
    """Collects a full load (its capacity), drives it away (a cycle), hands it on, and drives back (a cycle).

    `mission`, `direction` and `moving_since` say where it is, for the vehicle's own status reports.
    """

    def __init__(self, line: StationContext, asset: Asset, rng: np.random.Generator, inbound: Buffer | None,
                 outbound: Buffer | None) -> None:
        super().__init__(line, asset, rng, inbound, outbound)
        self.batch = asset.config.limit or 1  # a full load; an unlimited one would never leave
        self.trip_s = self.ideal_cycle_s
        self.ideal_cycle_s = 2 * self.ideal_cycle_s / self.batch  # a round trip per load, per part
        self.mission, self.direction = "wait_for_load", 1
        self.moving_since: float | None = None
        self.position = 0.0  # share of the route, 0 at the line, 1 at the warehouse

    def take(self, k: int) -> Generator[simpy.Event, Any, list[Part]]:
        parts = yield from super().take(k)
        self.mission, self.direction, self.moving_since = "deliver", 1, self.env.now
        return parts

    def hand_on(self, k: int, parts: list[Part]) -> Process:
        self.position, self.moving_since = 1.0, None
        yield from super().hand_on(k, parts)
        self.set_state(k, PRODUCING)
        self.mission, self.direction, self.moving_since = "return", -1, self.env.now
        yield from self.operate(k, self.draw_cycle(), [c for c in self.clocks[k] if not c.by_cycles])
        self.mission, self.position, self.moving_since = "wait_for_load", 0.0, None

    def route_share(self) -> float:
        """Where on the route it is now (0: at the line, 1: at the warehouse), interpolated on the nominal trip."""
        if self.moving_since is None:
            return self.position
        travelled = (self.env.now - self.moving_since) / self.trip_s
        return min(1.0, max(0.0, self.position + self.direction * travelled))

