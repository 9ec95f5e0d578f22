"""Planning replications on a Dask cluster: a local one on this machine's cores, or a scheduler's address.

Replications are independent and seeded by their index (simulators/flow/replications.py), so a cluster of
many machines returns exactly what one machine's process pool does, only sooner. Needs the `dask` extra
(`pip install 'factory-twin[dask]'`).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager


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
