"""`factory-twin bench dask`: planning replications in a process pool and on a local Dask cluster."""

from __future__ import annotations

import time
from typing import Any

from planning.dask_cluster import dask_executor
from plantmodel.plant import Line
from simulators.flow.replications import replicate


def bench_dask(line: Line, hours: float, replications: int, workers: int, seed: int = 1) -> dict[str, Any]:
    """The same replications in a process pool and on a local Dask cluster: wall time, and equal results."""
    t0 = time.perf_counter()
    pool = replicate(line, hours, replications, seed, workers=workers)
    pool_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with dask_executor("local", workers) as (executor, n):
        started_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        on_dask = replicate(line, hours, replications, seed, workers=n, executor=executor)
        dask_s = time.perf_counter() - t1
    return {"line": line.path, "hours": hours, "replications": replications, "workers": workers,
            "pool_s": round(pool_s, 2), "pool_replications_per_s": round(replications / pool_s, 1),
            "dask_cluster_start_s": round(started_s, 2), "dask_s": round(dask_s, 2),
            "dask_replications_per_s": round(replications / dask_s, 1), "identical_results": pool == on_dask}
