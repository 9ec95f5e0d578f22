"""Parts and the ledger that follows them from release to departure (WIP and flow times for Little's law)."""

from __future__ import annotations

import simpy


class Part:
    __slots__ = ("id", "product", "released", "route")

    def __init__(self, part_id: int, product: str, released: float, route: frozenset[str] | None) -> None:
        self.id, self.product, self.released, self.route = part_id, product, released, route


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
        self.released = self.good = self.scrap = self.lost = 0
        self.flow_time_sum = 0.0
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
        self._advance()
        self.wip -= 1
        self.flow_time_sum += self.env.now - part.released
        entered = max(part.released, self.window_start)
        self.entry_sum -= entered
        self.in_window_sum += self.env.now - entered
        if good:
            self.good += 1
        else:
            self.scrap += 1

    def summary(self) -> dict[str, float]:
        self._advance()
        span = self.env.now - self.window_start
        departed = self.good + self.scrap
        return {
            "span_s": span, "released": self.released, "good": self.good, "scrap": self.scrap, "lost": self.lost,
            "wip_mean": self.area / span if span else 0.0,
            "departures_per_s": departed / span if span else 0.0,
            "flow_time_mean_s": self.flow_time_sum / departed if departed else 0.0,
            # WIP area = in-window time of departed parts + of parts still inside (an identity); Little's
            # L = lambda W then holds up to `littles_edge_s` / span: time before the window, parts still inside.
            "wip_area_s": self.area,
            "in_window_departed_s": self.in_window_sum,
            "in_window_inside_s": self.wip * self.env.now - self.entry_sum,
            "littles_edge_s": (self.flow_time_sum - self.in_window_sum) + (self.wip * self.env.now - self.entry_sum),
        }
