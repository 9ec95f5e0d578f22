"""The agent: sources feed one stream of records, committed to the spool, that every sink reads at its own pace.

A slow or failing sink only delays itself: each sink reads the spool from its own cursor and retries a
failed batch with backoff, while sources and the other sinks carry on. What a sink has not confirmed
stays in the spool across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from edge_agent.derive import EventDeriver, Roles
from edge_agent.health import AgentHealth, AgentReadings, SinkReading, SpoolReading, serve_health
from edge_agent.plugins import SINKS, SOURCES, PluginContext, Refused, RetryLater, Sink, Source, instance_id
from edge_agent.quarantine import Quarantine
from edge_agent.spool import Spool, encode
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Record, Sample
from plantmodel.validation import Intake, Window

log = logging.getLogger(__name__)
RETRY_MAX_S = 5.0  # a sink that is back is written again within this (or at once, if it says it reconnected)


class Agent:
    def __init__(self, config: Any) -> None:
        self.config = config
        self.quarantine = Quarantine(config.data_dir / "quarantine.db")
        self.clock = config.clock.clock()
        self.intake = Intake(Window(config.max_future_s, self.clock.now_us))
        ctx = PluginContext(config.name, config.data_dir, self.emit, self.quarantine,
                            instance=instance_id(config.data_dir), clock=self.clock)
        plant = load_config(config.plant, PlantConfig) if config.plant else None
        self.sources: list[Source] = [SOURCES[c.type](c, ctx) for c in config.sources]
        self.sinks: list[Sink] = [SINKS[c.type](c, ctx) for c in config.sinks]
        sp = config.spool
        self.spool = Spool(config.data_dir / "spool.db", [s.config.name for s in self.sinks], sp.max_records,
                           sp.overflow, sp.synchronous, sp.commit_interval_s, max(config.batch_size, 1000),
                           refuse=self._unspoolable)
        self.deriver = EventDeriver(Roles.of(plant), ctx.rollovers)
        self.stats: Counter[str] = Counter()
        self.last_error: dict[str, str] = {}
        self.failing: dict[str, float] = {}  # sinks whose last write failed -> since when (loop time)
        self.health = AgentHealth(self, config.health.asset)

    def emit(self, samples: list[Sample], committed: Callable[[], None] | None = None, source: str = "") -> None:
        """Called on the event loop by sources, with samples already in the telemetry schema; `committed` runs
        once they are in the spool (a source that can, acknowledges its input only then). A sample the intake's
        rules refuse (plantmodel.validation: path, signal, value, timestamp window) is quarantined alone, so
        neither the historian nor the unified namespace ever sees it."""
        samples = [s for s in samples if self._admitted(s, source)]
        records: list[Record] = list(samples)
        records.extend(self.deriver.observe_batch(samples))
        self.stats["samples_in"] += len(samples)
        self.stats["events_derived"] += len(records) - len(samples)
        self.spool.append(records, committed)

    def _admitted(self, sample: Sample, source: str) -> bool:
        refusal = self.intake.refusal(sample)
        if refusal is None:
            return True
        self.stats["samples_refused"] += 1
        self.quarantine.reject(source or "intake", refusal.reason, refusal.field,
                               f"{sample.asset}/{sample.signal}: {refusal.detail}"[:1000],
                               payload=repr(sample).encode()[:4000])
        return False

    def _unspoolable(self, record: Record, why: str) -> None:
        """A record the spool cannot hold (e.g. an integer beyond 64 bits): quarantined alone, its group goes on."""
        what = f"{record.asset} {getattr(record, 'signal', getattr(record, 'kind', ''))}"
        self.quarantine.reject("spool", "unencodable", "value", f"{what}: {why}", payload=repr(record).encode()[:4000])

    def readings(self, ages: bool = True) -> AgentReadings:
        """The counters, sources, sinks and spool, typed, for the agent's health (edge_agent.health)."""
        stats, spool = self.stats, self.spool
        rejected: dict[str, dict[str, int]] = {}
        for (src, reason), count in list(self.quarantine.counts.items()):  # mutated by MQTT threads
            rejected.setdefault(src, {})[reason] = count
        sinks = {n: SinkReading(s.config.type, stats[f"written:{n}"], stats[f"errors:{n}"], self.failing.get(n),
                                self.last_error.get(n), spool.depth(n),
                                spool.oldest_unsent_age_s(n) if ages else None, spool.stats.dropped[n])
                 for s in self.sinks if (n := s.config.name)}
        return AgentReadings(
            self.config.name, dict(stats), {s.config.name: s.health() for s in self.sources}, sinks, rejected,
            SpoolReading(str(spool.path), spool.max_records, spool.overflow.value, spool.stats.refused,
                         spool.stats.rejected, spool.commit_error))

    @property
    def backlog(self) -> dict[str, int]:
        """Records per sink not yet confirmed (in the spool, or being gathered for it)."""
        return {name: self.spool.depth(name) for name in self.spool.cursors}

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
        own = [asyncio.create_task(self._report(), name="health")]
        if self.config.health.port:
            own.append(asyncio.create_task(serve_health(self.health, self.config.health, stop), name="health-http"))
        if ready:
            ready.set()
        try:
            await stop.wait()
        finally:
            for task in own:
                task.cancel()
            await asyncio.gather(*own, return_exceptions=True)
            for task in source_tasks:
                task.cancel()
            await asyncio.gather(*source_tasks, return_exceptions=True)
            await self._finish(sink_tasks)
            self.quarantine.close()

    async def _report(self) -> None:
        """Sample the counters each second for rates; publish own metrics as telemetry now and then."""
        interval = self.config.health.telemetry_interval_s
        last = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(1.0)
            self.health.tick()
            now = asyncio.get_running_loop().time()
            if interval and now - last >= interval:
                last = now
                self.spool.append(list(self.health.telemetry()))

    async def _finish(self, sink_tasks: list[asyncio.Task[None]], timeout_s: float = 5.0) -> None:
        """Commit what was gathered and give sinks a bounded time to catch up; the rest waits in the spool."""
        self.spool.flush()
        await self.spool.drained(timeout_s)
        left = {n: d for n in self.spool.cursors if (d := self.spool.depth(n))}
        if left:
            log.warning("stopping with records not yet confirmed by sinks (kept in the spool): %s", left)
        for task in sink_tasks:
            task.cancel()
        await asyncio.gather(*sink_tasks, return_exceptions=True)
        for s in self.sinks:
            await s.close()
        self.spool.close()

    async def _drain(self, sink: Sink) -> None:
        name = sink.config.name
        size, interval = self.config.batch_size, self.config.flush_interval_s
        loop = asyncio.get_running_loop()
        while True:
            await self.spool.wait(name)
            seq, batch = self.spool.read(name, size)
            if not batch:
                continue
            deadline = loop.time() + interval  # a batch fills up to `size` or waits at most `interval`
            while len(batch) < size and loop.time() < deadline:
                if not await self.spool.wait(name, max(0.0, deadline - loop.time())):
                    break
                more_seq, more = self.spool.read(name, size - len(batch), after=seq)
                if not more:
                    break
                seq, batch = more_seq, batch + more
            await self._write(sink, batch)
            self.spool.ack(name, seq)

    async def _write(self, sink: Sink, batch: list[Record]) -> None:
        """Until the sink confirms the batch: exponential backoff with jitter, or the wait the server asked
        for. A batch the sink refuses for good is quarantined whole, so it cannot block what follows."""
        name = sink.config.name
        backoff = 0.5
        while True:
            try:
                await sink.write(batch)
                self.stats[f"written:{name}"] += len(batch)
                self.failing.pop(name, None)
                return
            except asyncio.CancelledError:
                raise
            except Refused as exc:
                self.stats[f"refused:{name}"] += len(batch)
                self.last_error[name] = f"refused: {exc}"
                self.quarantine.reject(f"sink:{name}", "refused_by_sink", "batch", str(exc), payload=encode(batch))
                log.error("sink %s refused a batch of %d records for good (kept in the quarantine): %s", name,
                          len(batch), exc)
                return
            except Exception as exc:
                if sink.reconnected is not None:
                    sink.reconnected.clear()  # from now on, a connection regained cuts the wait short
                self.stats[f"errors:{name}"] += 1
                self.last_error[name] = f"{type(exc).__name__}: {exc}"
                self.failing.setdefault(name, asyncio.get_running_loop().time())
                delay = retry_delay(backoff, exc)
                log.warning("sink %s failed to write %d records: %s; retrying in %.1f s", name, len(batch), exc,
                            delay)
                await _wait(sink.reconnected, delay)
                backoff = min(backoff * 2, RETRY_MAX_S)


async def _wait(reconnected: asyncio.Event | None, delay: float) -> None:
    if reconnected is None:
        await asyncio.sleep(delay)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reconnected.wait(), delay)


def retry_delay(backoff: float, exc: Exception, rng: random.Random | None = None) -> float:
    """Full backoff ±50 % (so many agents do not retry in step), or what the server asked for, if longer."""
    jittered = backoff * (0.5 + (rng or random).random())
    return max(jittered, exc.delay_s) if isinstance(exc, RetryLater) else jittered
