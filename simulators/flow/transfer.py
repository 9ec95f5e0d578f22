"""A rigid (synchronous) transfer line: every station works on its part, then all parts move on at once.

An index lasts as long as the slowest station's cycle, repairs included: one stop stops all. A station
waiting for the index is blocked, one with no part in its slot (a part scrapped upstream, a product
that does not visit it, the line still filling) starved. A new part enters the first slot at every
index: from an unlimited supply, or the arrivals waiting in the entry queue (the line waits for one
only when it is empty). Buzacott's line: with operation-dependent failures the line's efficiency is
1 / (1 + sum of MTTR_i / MTBF_i) while at most one station fails in an index.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from simulators.flow.parts import Part
from simulators.flow.station import BLOCKED, PLANNED, PRODUCING, STARVED, Station

if TYPE_CHECKING:
    from simulators.flow.line import FlowLine

Process = Generator[simpy.Event, Any, Any]


def cycle(station: Station, part: Part) -> Generator[simpy.Event, Any, Part | None]:
    """One station's work in one index: its part back, or None when it was scrapped."""
    k = 0
    if part.route is not None and station.id not in part.route:
        station.set_state(k, STARVED)  # this product does not stop here: the station has nothing to do
        return part
    if station.draw_setup is not None and station.last_product[k] not in (None, part.product):
        yield from station.changeover(k)
    station.last_product[k] = part.product
    clocks = station.clocks[k]
    for clock in clocks:
        if clock.by_cycles:
            clock.left -= 1
            if clock.left <= 0:
                yield from station.repair(k, clock)
                clock.renew()
    station.set_state(k, PRODUCING)
    draw = station.product_cycle.get(part.product, station.draw_cycle) if station.product_cycle else station.draw_cycle
    t = draw()
    if station.micro_p and station.random() < station.micro_p:
        assert station.draw_micro is not None
        t += station.draw_micro()
    yield from station.operate(k, t / station.speed, [c for c in clocks if not c.by_cycles])
    good = yield from station.judge(k, [part], [c for c in clocks if not c.by_cycles])
    station.set_state(k, BLOCKED, "waiting_for_index")
    return good[0] if good else None


def run(line: FlowLine) -> Process:
    env, stations, cal = line.env, line.stations, line.calendar
    first = stations[0]
    entry = first.inbound
    slots: list[Part | None] = [None] * len(stations)
    while True:
        # index: the last part leaves, every other moves one station on, a new one enters
        last = slots[-1]
        if last is not None:
            line.finish(last)
        slots = [None, *slots[:-1]]
        if entry is None:
            slots[0] = line.new_part()
        elif entry.ready() or not any(slots):
            event = entry.get()
            if not event.triggered:
                for st in stations:
                    st.wait_on(0, STARVED)
                yield event
                for st in stations:
                    st.waiting[0] = None
            slots[0] = event.value
        while not cal.open:
            for st in stations:
                st.set_state(0, PLANNED, cal.reason)
            yield cal.reopened
        for st in stations:
            while st.held is not None:
                for other in stations:
                    other.set_state(0, PLANNED, "maintenance")
                yield st.held
        work = []
        for i, (st, part) in enumerate(zip(stations, slots, strict=True)):
            if part is None:
                st.set_state(0, STARVED)
            else:
                work.append((i, env.process(cycle(st, part))))
        if work:
            yield simpy.AllOf(env, [p for _, p in work])
        for i, proc in work:
            slots[i] = proc.value
