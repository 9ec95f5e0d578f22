"""An instant throughput estimate of a serial line, to sweep many variants before simulating the best few.

Each pair of neighbouring stations and the buffer between them is solved exactly as a continuous-time
Markov chain: exponential processing (rate mu), operation-dependent exponential failures (rate p, only
while working) and repairs (rate r), blocking after service; the first machine never starved, the
second never blocked. For two stations this is exact for that model (for p = 0 it is the birth-death
result of Kleinrock / Gershwin, throughput = mu2 (1 - pi0)). For longer lines the estimate is the
slowest pair, which ignores how starvation and blocking travel beyond a neighbour (too high), while
exponential processing is more variable than most real cycles (too low): an approximation to rank
variants in milliseconds, shown next to the simulated result, not instead of it.

Stations are described in units of line input (scrap upstream makes a station's parts scarcer), and
the estimate is of good parts per second at the end of the line.

>>> round(two_machine_rate(Machine(1.0), Machine(1.0), buffer=3), 6)
0.833333
>>> round(two_machine_rate(Machine(1.0, p=0.01, r=0.1), Machine(1e6), buffer=0), 6)
0.909091
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

#: Buffers larger than this are solved as this size: the chain is then already at its infinite-buffer limit
#: for any line a planner would build, and the dense solve stays small (4 x 400 states).
MAX_STATES = 400


@dataclass(frozen=True, slots=True)
class Machine:
    """Processing rate mu (parts/s while up and working), failure rate p (per working second), repair rate r."""

    mu: float
    p: float = 0.0
    r: float = 1.0
    good_fraction: float = 1.0  # of parts it finishes, the share not scrapped

    @property
    def efficiency(self) -> float:
        return self.r / (self.r + self.p)

    @property
    def capacity(self) -> float:
        return self.mu * self.efficiency


def two_machine_rate(m1: Machine, m2: Machine, buffer: int) -> float:
    """Throughput (parts/s out of m2) of two machines with `buffer` places between them, solved exactly."""
    n_max = min(buffer + 2, MAX_STATES)  # parts between: in the buffer, in m2, and finished but held by m1
    size = (n_max + 1) * 4
    q = np.zeros((size, size))

    def idx(n: int, up1: int, up2: int) -> int:
        return n * 4 + up1 * 2 + up2

    for n in range(n_max + 1):
        for up1 in (0, 1):
            for up2 in (0, 1):
                s = idx(n, up1, up2)
                works1, works2 = up1 and n < n_max, up2 and n > 0
                if works1:
                    q[s, idx(n + 1, up1, up2)] += m1.mu
                    q[s, idx(n, 0, up2)] += m1.p
                if works2:
                    q[s, idx(n - 1, up1, up2)] += m2.mu
                    q[s, idx(n, up1, 0)] += m2.p
                if not up1:
                    q[s, idx(n, 1, up2)] += m1.r
                if not up2:
                    q[s, idx(n, up1, 1)] += m2.r
    np.fill_diagonal(q, -q.sum(axis=1))
    # pi Q = 0 with sum(pi) = 1: replace one balance equation by the normalisation.
    a = q.T.copy()
    a[-1, :] = 1.0
    b = np.zeros(size)
    b[-1] = 1.0
    pi = np.linalg.solve(a, b)
    working2 = sum(pi[idx(n, u1, 1)] for n in range(1, n_max + 1) for u1 in (0, 1))
    return float(m2.mu * working2)


def serial_line_rate(machines: list[Machine], buffers: list[int]) -> dict[str, float]:
    """Good parts per second of a serial line (slowest neighbouring pair), with its two limits.

    `buffers[i]` is the capacity between machines i and i+1. Returns the estimate, the infinite-buffer
    limit (slowest station) and the index of the pair or station that sets the estimate.
    """
    if len(buffers) != len(machines) - 1:
        raise ValueError("a serial line has one buffer between each pair of neighbouring machines")
    # Express every rate in parts released into the line: scrap upstream thins a station's supply.
    scale, norm = 1.0, []
    for m in machines:
        norm.append(Machine(m.mu / scale, m.p, m.r))
        scale *= m.good_fraction
    upper = min(m.capacity for m in norm)
    if len(norm) == 1:
        return {"estimate": upper * scale, "infinite_buffer_limit": upper * scale, "limiting": 0}
    pairs = [two_machine_rate(a, b, c) for (a, b), c in zip(itertools.pairwise(norm), buffers, strict=True)]
    worst = int(np.argmin(pairs))
    return {"estimate": min(pairs) * scale, "infinite_buffer_limit": upper * scale, "limiting": worst}
