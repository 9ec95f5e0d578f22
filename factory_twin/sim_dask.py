"""Planning replications on a Dask cluster: a local one on this machine's cores, or a scheduler's address.

Replications are independent and seeded by their index (simulators/flow/replications.py), so a cluster of
many machines returns exactly what one machine's process pool does, only sooner. Needs the `dask` extra
(`pip install 'factory-twin[dask]'`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

from plantmodel.plant import Line
from simulators.flow.replications import replicate


@contextmanager
def dask_executor(address: str, workers: int | None = None) -> Iterator[tuple[Executor, int]]:
    """("local" or "tcp://scheduler:8786") -> a concurrent.futures executor on the cluster, and its worker count."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError("Dask is not installed: pip install 'factory-twin[dask]'") from None
    if address == "local":
        with (LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
              Client(cluster) as client):
            yield client.get_executor(), len(cluster.workers)
    else:
        with Client(address) as client:
            yield client.get_executor(), max(1, len(client.scheduler_info()["workers"]))


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
