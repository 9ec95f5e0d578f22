"""Independent replications on all cores; the same seed gives the same results whatever the worker count.

Replication r's random streams come from ``SeedSequence(seed, spawn_key=(r,))``: they depend on the base
seed and r only, never on which worker ran r or in what order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from plantmodel.plant import Line
from plantmodel.scenario import LineStart
from simulators.flow.line import FlowLine


def replication_seed(seed: int, r: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(r,))


def run_replication(line: Line, hours: float, warmup_h: float | None, seed: int, r: int,
                    start: LineStart | None = None, max_events: int | None = None) -> dict[str, Any]:
    return FlowLine(line, replication_seed(seed, r), start=start).run(hours, warmup_h, max_events)


def _run_chunk(line: Line, hours: float, warmup_h: float | None, seed: int, rs: list[int],
               start: LineStart | None, max_events: int | None = None) -> list[dict[str, Any]]:
    return [run_replication(line, hours, warmup_h, seed, r, start, max_events) for r in rs]


def replicate(line: Line, hours: float, replications: int, seed: int, *, workers: int | None = None,
              warmup_h: float | None = None, progress: Callable[[int], None] | None = None,
              start: LineStart | None = None, executor: Executor | None = None,
              max_events: int | None = None) -> list[dict[str, Any]]:
    """Results of replications 0..n-1 in that order; `progress` is called with how many just finished.

    With `start`, every replication begins from those initial conditions instead of an empty line; with
    `max_events`, a replication that processes more simulation events fails (`EventBudgetExceeded`).
    `executor` runs the chunks elsewhere (e.g. a Dask cluster's `client.get_executor()`, `workers` then being
    its worker count); by default a process pool on this machine's cores.
    """
    workers = max(1, min(workers or os.cpu_count() or 1, replications))
    if workers == 1 and executor is None:
        results = []
        for r in range(replications):
            results.append(run_replication(line, hours, warmup_h, seed, r, start, max_events))
            if progress:
                progress(1)
        return results
    # Small chunks: few enough to keep the pickling overhead low, many enough to balance and show progress.
    size = max(1, replications // (workers * 8))
    chunks = [list(range(i, min(i + size, replications))) for i in range(0, replications, size)]
    out: dict[int, dict[str, Any]] = {}
    pool = executor or ProcessPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(_run_chunk, line, hours, warmup_h, seed, rs, start, max_events): rs for rs in chunks}
        for future in as_completed(futures):
            for r, result in zip(futures[future], future.result(), strict=True):
                out[r] = result
            if progress:
                progress(len(futures[future]))
    finally:
        if executor is None:
            pool.shutdown()
    return [out[r] for r in range(replications)]
