"""The agent: sources feed one stream of records that fans out to every sink on its own queue.

A slow or failing sink only delays itself: each sink drains its own queue and retries a failed
batch with backoff, while sources and the other sinks carry on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from edge_agent.derive import EventDeriver
from edge_agent.plugins import SINKS, SOURCES, PluginContext, Sink, Source
from edge_agent.quarantine import Quarantine
from plantmodel.telemetry import Record, Sample

log = logging.getLogger(__name__)


class Agent:
    def __init__(self, config: Any) -> None:
        self.config = config
        self.quarantine = Quarantine(config.data_dir / "quarantine.db")
        ctx = PluginContext(config.name, config.data_dir, self.emit, self.quarantine)
        self.sources: list[Source] = [SOURCES[c.type](c, ctx) for c in config.sources]
        self.sinks: list[Sink] = [SINKS[c.type](c, ctx) for c in config.sinks]
        self.queues: dict[str, asyncio.Queue[list[Record]]] = {s.config.name: asyncio.Queue() for s in self.sinks}
        self.deriver = EventDeriver()
        self.stats: Counter[str] = Counter()
        self.backlog: Counter[str] = Counter()  # records queued per sink, not yet written

    def emit(self, samples: list[Sample]) -> None:
        """Called on the event loop by sources, with samples already in the telemetry schema."""
        records: list[Record] = list(samples)
        for sample in samples:
            event = self.deriver.observe(sample)
            if event is not None:
                records.append(event)
        self.stats["samples_in"] += len(samples)
        self.stats["events_derived"] += len(records) - len(samples)
        for name, queue in self.queues.items():
            queue.put_nowait(records)
            self.backlog[name] += len(records)

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        for s in self.sinks:
            await s.start()
        sink_tasks = [asyncio.create_task(self._drain(s), name=f"sink:{s.config.name}") for s in self.sinks]
        source_tasks = []
        for src in self.sources:  # in config order, so a gated plant does not start before all listen
            source_tasks.append(asyncio.create_task(src.run(), name=f"source:{src.config.name}"))
            try:
                await asyncio.wait_for(src.ready.wait(), self.config.source_ready_timeout_s)
            except TimeoutError:
                log.warning("source %s not ready after %.0f s; starting the others", src.config.name,
                            self.config.source_ready_timeout_s)
        if ready:
            ready.set()
        try:
            await stop.wait()
        finally:
            for task in source_tasks:
                task.cancel()
            await asyncio.gather(*source_tasks, return_exceptions=True)
            await self._finish(sink_tasks)
            self.quarantine.close()

    async def _finish(self, sink_tasks: list[asyncio.Task[None]], timeout_s: float = 5.0) -> None:
        """Give sinks a bounded time to write what is queued, then close them."""
        try:
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self.queues.values())), timeout_s)
        except TimeoutError:
            left = {name: q.qsize() for name, q in self.queues.items() if q.qsize()}
            log.warning("stopping with batches still queued: %s", left)
        for task in sink_tasks:
            task.cancel()
        await asyncio.gather(*sink_tasks, return_exceptions=True)
        for s in self.sinks:
            await s.close()

    async def _drain(self, sink: Sink) -> None:
        queue = self.queues[sink.config.name]
        size, interval = self.config.batch_size, self.config.flush_interval_s
        loop = asyncio.get_running_loop()
        while True:
            batch = list(await queue.get())
            taken = 1
            deadline = loop.time() + interval  # a batch fills up to `size` or waits at most `interval`
            while len(batch) < size:
                if not queue.empty():
                    records = queue.get_nowait()
                else:
                    try:  # Queue.get is cancellation-safe: a time-out never loses an item
                        records = await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time()))
                    except TimeoutError:
                        break
                batch.extend(records)
                taken += 1
            await self._write(sink, batch)
            self.backlog[sink.config.name] -= len(batch)
            for _ in range(taken):
                queue.task_done()

    async def _write(self, sink: Sink, batch: list[Record]) -> None:
        backoff = 0.5
        while True:
            try:
                await sink.write(batch)
                self.stats[f"written:{sink.config.name}"] += len(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats[f"errors:{sink.config.name}"] += 1
                log.warning("sink %s failed to write %d records: %s; retrying in %.1f s",
                            sink.config.name, len(batch), exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

