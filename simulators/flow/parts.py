"""Parts and the ledger that follows them through the line: WIP, lead time and queue wait, defined once.

A part's life begins when it is released into the line (drawn by the first station from an unlimited
supply, or accepted from an arrival or a release; a lost arrival never lives) and ends when it leaves:
finished good at an exit, scrapped, or joined into another part at an assembly station (the part from
the assembly's first input carries on; the others end there). WIP counts every living part; lead time
is the time from release to the end of life, averaged over every part whose life ended in the window,
whatever the end; so Little's law holds between them, L = (parts ended per second) x (lead time), up to
the parts straddling the window's edges (`littles_edge_s`). `good_lead_time` is that of finished good
parts only, what an order waits; queue wait is the time a part spent in buffers (and waiting at a
hand-over or in the entry queue) before a machine took it.
"""

from __future__ import annotations

import simpy


class Part:
    __slots__ = ("entered", "id", "lane", "product", "released", "reworks", "route", "waited")

    def __init__(self, part_id: int, product: str, released: float, route: frozenset[str] | None) -> None:
        self.id, self.product, self.released, self.route = part_id, product, released, route
        self.entered = released  # when it entered the store it waits in now
        self.waited = 0.0  # time spent waiting in stores
        self.reworks = 0
        self.lane = 0  # the branch a split buffer chose for it


class Ledger:
    """Counts parts in and out and integrates WIP over time; `reset` starts the measured window (warm-up)."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.wip = 0
        self.window_start = 0.0
        self.reset()

    def reset(self) -> None:
        self.last = self.window_start = self.env.now
        self.area = 0.0
        self.released = self.good = self.scrap = self.joined = self.lost = self.offered = 0
        self.flow_time_sum = self.good_flow_time_sum = self.waited_sum = 0.0
        # For Little's law's edge terms: time inside the window, of departed parts and of parts still inside.
        self.in_window_sum = 0.0
        self.entry_sum = self.wip * self.window_start  # sum over parts inside of max(release, window start)

    def _advance(self) -> None:
        now = self.env.now
        self.area += self.wip * (now - self.last)
        self.last = now

    def release(self) -> None:
        self._advance()
        self.wip += 1
        self.released += 1
        self.entry_sum += self.env.now

    def depart(self, part: Part, good: bool) -> None:
        self._end(part)
        if good:
            self.good += 1
            self.good_flow_time_sum += self.env.now - part.released
        else:
            self.scrap += 1

    def join(self, part: Part) -> None:
        """`part` became part of another at an assembly station: its own life ends there."""
        self._end(part)
        self.joined += 1

    def _end(self, part: Part) -> None:
        self._advance()
        self.wip -= 1
        self.flow_time_sum += self.env.now - part.released
        self.waited_sum += part.waited
        entered = max(part.released, self.window_start)
        self.entry_sum -= entered
        self.in_window_sum += self.env.now - entered

    def summary(self) -> dict[str, float]:
        self._advance()
        span = self.env.now - self.window_start
        departed = self.good + self.scrap + self.joined
        return {
            "span_s": span, "released": self.released, "good": self.good, "scrap": self.scrap,
            "joined": self.joined, "lost": self.lost, "offered": self.offered,
            "loss_probability": self.lost / self.offered if self.offered else 0.0,
            "wip_mean": self.area / span if span else 0.0,
            "departures_per_s": departed / span if span else 0.0,
            "flow_time_mean_s": self.flow_time_sum / departed if departed else 0.0,
            "good_flow_time_mean_s": self.good_flow_time_sum / self.good if self.good else 0.0,
            "queue_wait_mean_s": self.waited_sum / departed if departed else 0.0,
            # WIP area = in-window time of departed parts + of parts still inside (an identity); Little's
            # L = lambda W then holds up to `littles_edge_s` / span: time before the window, parts still inside.
            "wip_area_s": self.area,
            "in_window_departed_s": self.in_window_sum,
            "in_window_inside_s": self.wip * self.env.now - self.entry_sum,
            "littles_edge_s": (self.flow_time_sum - self.in_window_sum) + (self.wip * self.env.now - self.entry_sum),
        }
