"""Large historian reads in worker processes: a month of windows or a hundred thousand raw points, read,
shaped and serialised away from the twin's process.

In a thread they would still share the twin's interpreter lock and garbage collector with the event loop:
one serialisation or one full collection over a million fresh objects stalls every request and MQTT
message for that long. A worker process answers with finished bytes; the loop only passes them on.
At most `workers` reads run at once; more wait their turn.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import multiprocessing
import os
import select
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import orjson

from historian.base import Historian
from plantmodel.telemetry import Sample
from twin.history import Source, open_source

log = logging.getLogger(__name__)
_open: dict[str, Historian] = {}  # in a worker: one reader per historian (a file, or a server), kept


def _historian(source: Source) -> Historian:
    key = repr(source[:2])
    h = _open.get(key)
    if h is None:
        h = _open[key] = open_source(source)
    return h


def newest_samples(h: Any, asset: str, signal: str, lo: datetime, hi: datetime, limit: int
                   ) -> tuple[list[Sample], bool]:
    """The newest `limit` raw samples in [lo, hi), reading no more than about that many: the minute counts
    (from the historian's rollups) tell where to start, unless the historian reads a tail itself (InfluxDB:
    newest first, limited). True when older samples were left out."""
    if hasattr(h, "tail"):
        samples = sorted(h.tail(asset, signal, lo, hi, limit + 1), key=lambda s: s.ts)
        return samples[-limit:], len(samples) > limit
    lo_m = lo.replace(second=0, microsecond=0)
    hi_m = hi.replace(second=0, microsecond=0) + (timedelta(minutes=1) if hi.second or hi.microsecond else timedelta())
    total, start = 0, lo
    for w in reversed(h.windows(asset, signal, lo_m, hi_m, 60)):
        if w.start + timedelta(minutes=1) > hi:
            continue  # a minute cut by `hi` counts samples after it: only whole minutes are counted
        total += w.count
        if total > limit:
            start = max(lo, w.start)
            break
    samples = h.samples(asset, signal, start, hi)
    return samples[-limit:], start > lo or len(samples) > limit


def points(h: Any, asset: str, signal: str, lo: datetime, hi: datetime, step_s: int | None, limit: int
           ) -> tuple[list[dict[str, Any]], bool]:
    if step_s is None:
        samples, truncated = newest_samples(h, asset, signal, lo, hi, limit)
        return [{"ts": s.ts, "value": s.value, "quality": str(s.quality)} for s in samples], truncated
    return [{"ts": w.start, "count": w.count, "mean": w.mean, "min": w.min, "max": w.max, "last": w.last}
            for w in h.windows(asset, signal, lo, hi, step_s)], False


def series(source: Source, asset: str, signal: str, unit: str, lo: datetime, hi: datetime, step_s: int | None,
           limit: int, fmt: str) -> bytes:
    """One series as the API answers it: JSON, or CSV with a header row (empty when there is no data)."""
    rows, truncated = points(_historian(source), asset, signal, lo, hi, step_s, limit)
    if fmt == "csv":
        if not rows:
            return b""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for p in rows:
            writer.writerow({k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
                             for k, v in p.items()})
        return out.getvalue().encode()
    return orjson.dumps({"asset": asset, "signal": signal, "unit": unit, "start": lo, "end": hi, "step_s": step_s,
                         "truncated": truncated, "points": rows}, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)


def _nothing() -> None:
    return None


def _exit_with(service: int) -> None:
    """Worker initializer: end with the service, however it ends. A pool's worker waits on its queue for ever
    once the service is killed (SIGKILL, the OOM killer), and keeps the forkserver alive with it: every restart
    of a twin that was killed would leave its workers behind."""
    try:
        fd = os.pidfd_open(service)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd (not Linux): the service's death shows as a new parent
        parent = os.getppid()

        def poll() -> None:
            while os.getppid() == parent:
                time.sleep(2.0)
            os._exit(0)
        threading.Thread(target=poll, daemon=True, name="exit-with-service").start()
        return

    def wait() -> None:
        select.select([fd], [], [])  # readable once the service has ended
        os._exit(0)
    threading.Thread(target=wait, daemon=True, name="exit-with-service").start()


def _context() -> Any:
    return multiprocessing.get_context("forkserver" if sys.platform == "linux" else "spawn")


class HeavyReads:
    """The worker processes, started on first use and stopped with the service."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._gate = asyncio.Semaphore(workers)

    async def run(self, fn: Any, *args: Any) -> Any:
        async with self._gate:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=_context(), initializer=_exit_with,
                                                 initargs=(os.getpid(),))
            # submitted from a thread: the first submissions start the processes, which takes a while
            future = await asyncio.to_thread(self._pool.submit, fn, *args)
            return await asyncio.wrap_future(future)

    async def warm(self) -> None:
        """Start the processes ahead of the first read: starting them takes seconds on a busy machine, longer
        than a peer instance waits for an answer it forwards."""
        try:
            await self.run(_nothing)
        except Exception:  # a pool that cannot start now will be tried again by the first read
            log.warning("could not start the worker processes for historian reads", exc_info=True)

    def pids(self) -> list[int]:
        return list(getattr(self._pool, "_processes", None) or {})

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
