"""Releases into the line: random arrivals (lost when the entry queue is full) or a release schedule."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from plantmodel.simulation import Source as SourceSpec
from simulators.distributions import sampler
from simulators.flow.buffer import Buffer

if TYPE_CHECKING:
    from simulators.flow.line import FlowLine


class Source:
    def __init__(self, line: FlowLine, spec: SourceSpec, rng: np.random.Generator, entry: Buffer) -> None:
        self.line, self.spec, self.entry = line, spec, entry
        self.draw = sampler(spec.interarrival, rng) if spec.interarrival else None

    def start(self) -> None:
        body = self.arrivals() if self.spec.kind == "arrivals" else self.schedule()
        self.line.env.process(body)

    def arrivals(self) -> Generator[simpy.Event, Any, None]:
        env, line, entry, draw = self.line.env, self.line, self.entry, self.draw
        assert draw is not None
        while True:
            yield env.timeout(draw())
            line.ledger.offered += 1
            if len(entry.items) >= entry.limit + len(entry.get_queue):
                line.ledger.lost += 1  # the entry is full: the arrival goes elsewhere (Erlang's loss system)
                entry.offered += 1
                entry.blocked += 1
                continue
            entry.put(line.new_part())

    def schedule(self) -> Generator[simpy.Event, Any, None]:
        env, line = self.line.env, self.line
        for release in sorted(self.spec.releases, key=lambda r: r.at_h):
            at = release.at_h * 3600.0
            if at > env.now:
                yield env.timeout(at - env.now)
            for _ in range(release.quantity):
                yield self.entry.put(line.new_part(release.product))
