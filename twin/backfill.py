"""No silent gaps: after a restart or a lost broker connection the twin reads what it missed from the historian.

The unified namespace is not a log: what is published while the twin is away is gone for it, and only each
topic's latest retained value comes back. The historian has all of it (the agent writes both from one spool).
So at start-up, and whenever the feed (re)connects, the twin

1. holds back the live messages of the new connection;
2. reads its lines' events and samples from the historian since the newest instant it had applied (its
   watermark, per line, kept in the twin's database) and replays them in time order through the path live
   records take: state, OEE, stops, SPC, anomaly scores, alert rules. At start-up it replays the events of
   the last two days (today's shifts, and a night shift begun yesterday) to rebuild OEE and stops, and the
   samples from `warmup_s` before its watermark with alerts held back, so the rules' timers are warm again
   when the gap begins; in the gap itself alerts are raised as they would have been;
3. waits, at most `settle_s`, until the historian holds what the live feed has already brought (the agent
   writes the historian a moment after the namespace), reading what arrives meanwhile;
4. applies the held messages.

Each record is applied once: a record already applied (same series and timestamp, or the same event) is
skipped, and a retained message no newer than the watermark refreshes the live state only (it is old news for
OEE and alerts). Across a restart the last second before it may be replayed again (the watermark is saved
every second); the alert engine ignores a condition no newer than what its alert has seen, so no occurrence
counts twice.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson

from historian.base import Historian
from plantmodel.telemetry import Event, Record, Sample, from_micros, to_micros
from twin.alerting import AlertEngine
from twin.config import BackfillConfig
from twin.downtime import ALARM_SIGNAL
from twin.history import HistoryReader
from twin.state import PlantTwin, Rejected

log = logging.getLogger(__name__)
US = 1_000_000
EVENTS_BACK_US = 2 * 86_400 * US  # OEE and stops of today's shifts, and of a night shift begun yesterday
OVERLAP_US = 10 * US  # read back this far before the watermark: sources whose records arrive a little late
CHUNK_US = 600 * US  # samples are read ten minutes at a time, so a long gap never sits in memory whole
QUIET_S = 1.0  # a connected line that sends nothing live for this long has nothing to wait for
SETTLE_POLL_S = 0.25  # how often the historian is asked whether it has caught up
STALLED_S = 2.0  # a historian with nothing new for this long is not being written: no use waiting for it
RETRY_S = 5.0  # a gap the historian could not give is asked for again this much later
YIELD_EVERY = 2000  # records replayed between two turns of the event loop


def line_of(asset: str) -> str:
    return "/".join(asset.split("/")[:4])


def record_key(r: Record) -> tuple[Any, ...]:
    if isinstance(r, Sample):
        return (r.asset, r.signal, to_micros(r.ts))
    return (r.asset, str(r.kind), to_micros(r.ts), orjson.dumps(dict(r.data), option=orjson.OPT_SORT_KEYS))


class Admission(Enum):
    APPLY = "apply"
    STATE_ONLY = "state_only"  # a retained value the twin has seen or passed: live state, not analytics
    SKIP = "skip"  # applied already


class Seen:
    """Per line: the newest instant applied (the watermark) and the records applied within `horizon_us` of it."""

    def __init__(self, horizon_us: int, watermarks: dict[str, int] | None = None) -> None:
        self.horizon_us = horizon_us
        self.watermarks: dict[str, int] = dict(watermarks or {})
        self._keys: set[tuple[Any, ...]] = set()
        self._order: deque[tuple[int, str, tuple[Any, ...]]] = deque()
        self._last: tuple[Record | None, tuple[Any, ...]] = (None, ())  # the record asked about, and its key

    def _key(self, record: Record) -> tuple[Any, ...]:
        if self._last[0] is not record:  # `known` then `add` of one record: its key is made once
            self._last = (record, record_key(record))
        return self._last[1]

    def known(self, record: Record) -> bool:
        return self._key(record) in self._keys

    def add(self, record: Record) -> None:
        key = self._key(record)
        ts, line = key[2], line_of(record.asset)
        newest = self.watermarks.get(line)
        if newest is None or ts > newest:
            self.watermarks[line] = newest = ts
        if key in self._keys:
            return
        self._keys.add(key)
        self._order.append((ts, line, key))
        while self._order and self._order[0][0] < self.watermarks[self._order[0][1]] - self.horizon_us:
            self._keys.discard(self._order.popleft()[2])


@dataclass(slots=True)
class Held:
    """A live message that arrived while the gap was being read: applied after it, in arrival order."""

    topic: str
    payload: bytes
    retained: bool
    record: Record


@dataclass(frozen=True, slots=True)
class Plan:
    """What one catch-up reads for one line (microseconds): events from, samples from, alerts held back up to,
    and up to where (none: as far as the historian goes; set when a failed read is tried again, since the live
    feed has gone on from there meanwhile)."""

    events_from: int
    samples_from: int
    mute_until: int | None
    until: int | None = None


@dataclass
class CatchUp:
    reason: str
    started: datetime
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)
    replayed: int = 0
    duplicates: int = 0
    rejected: int = 0
    held: int = 0
    seconds: float | None = None
    complete: bool | None = None  # the historian caught up with the live feed within settle_s
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "started": self.started, "lines": self.lines, "replayed": self.replayed,
                "duplicates": self.duplicates, "rejected": self.rejected, "held": self.held,
                "seconds": self.seconds, "complete": self.complete, "error": self.error}


class Backfill:
    """Fills the gaps of the live feed (see the module docstring); the feed asks `admit` about every record."""

    def __init__(self, twin: PlantTwin, alerts: AlertEngine, reader: HistoryReader, config: BackfillConfig,
                 lines: list[str], clock: Callable[[], float] = time.time) -> None:
        self.twin, self.alerts, self.reader, self.config = twin, alerts, reader, config
        self.lines, self.clock = lines, clock
        self.seen = Seen(int((config.settle_s + 60) * US) + OVERLAP_US)
        self.holding = False
        self.held: deque[Held] = deque()
        self.deliver: Callable[[Held], None] | None = None  # the feed's way of applying a live message
        self.connected: Callable[[], bool] = lambda: True
        self.rebuilt = asyncio.Event()  # the start-up pass has replayed the day: OEE and stops are whole
        self.history: deque[CatchUp] = deque(maxlen=20)
        self.current: CatchUp | None = None
        self.duplicates = 0  # live messages skipped as applied already
        self._needed = asyncio.Event()
        self._first_live: dict[str, int] = {}
        self._held_since = 0.0
        self._started = False  # the start-up pass has run
        self._retry: dict[str, Plan] | None = None

    @property
    def enabled(self) -> bool:
        return self.config.enabled and self.reader.config is not None

    # ---- the live feed ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Before the feed starts: hold its messages until the start-up pass has read the gap."""
        if self.enabled:
            self._hold()
            self._needed.set()
        else:
            self.rebuilt.set()

    def connected_again(self) -> None:
        """The feed has (re)connected; on the event loop, before any message of the new connection."""
        if self.enabled:
            self._hold()
            self._needed.set()

    def hold(self, item: Held) -> None:
        self.held.append(item)
        if not item.retained:
            self._first_live.setdefault(line_of(item.record.asset), to_micros(item.record.ts))
        if len(self.held) > self.config.hold_max:  # a catch-up that takes too long must not eat the memory
            oldest = self.held.popleft()
            if self.deliver is not None:
                self.deliver(oldest)

    def admit(self, record: Record, retained: bool) -> Admission:
        if self.seen.known(record):
            return Admission.SKIP
        if retained:
            newest = self.seen.watermarks.get(line_of(record.asset))
            if newest is not None and to_micros(record.ts) <= newest:
                return Admission.STATE_ONLY if isinstance(record, Sample) else Admission.SKIP
        return Admission.APPLY

    def applied(self, record: Record) -> None:
        self.seen.add(record)

    # ---- catching up -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """For the service's life (after `start`): one catch-up at start-up, one after each (re)connection."""
        while True:
            await self._needed.wait()
            self._needed.clear()
            try:
                await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the historian is away: live data goes on, what is left of the gap is
                log.warning("could not read the gap from the historian (%s: %s); trying again in %.0f s",  # later
                            type(exc).__name__, exc, RETRY_S)
                if self.current is not None:
                    self.current.error = f"{type(exc).__name__}: {exc}"
                now = int(self.clock() * US)
                self._retry = {line: plan if plan.until is not None else replace(
                    plan, until=self._first_live.get(line, now)) for line, plan in (self._retry or {}).items()}
                if self._retry:
                    asyncio.get_running_loop().call_later(RETRY_S, self._again)
            finally:
                self._release()
                self.rebuilt.set()

    def _again(self) -> None:
        self._hold()
        self._needed.set()

    def _hold(self) -> None:
        if not self.holding:
            self.holding, self._held_since = True, time.monotonic()
            self._first_live.clear()

    def _release(self) -> None:
        self.holding = False
        if self.current is not None:
            self.current.held = len(self.held)
        while self.held:
            item = self.held.popleft()
            if self.deliver is not None:
                self.deliver(item)

    def _plans(self) -> dict[str, Plan]:
        if self._retry is not None:
            return self._retry
        now = int(self.clock() * US)
        plans = {}
        for line in self.lines:
            w = self.seen.watermarks.get(line)
            if not self._started:  # after a restart: the day's events, samples from a while before the gap
                mark = w if w is not None else now  # never ran: everything in the historian is the past
                plans[line] = Plan(now - EVENTS_BACK_US,
                                   max(mark - int(self.config.warmup_s * US),
                                       now - int((self.config.max_gap_s + self.config.warmup_s) * US)), mark)
            elif w is not None:  # a reconnection: the gap since the newest record applied, alerts as they come
                start = max(w - OVERLAP_US, now - int(self.config.max_gap_s * US))
                plans[line] = Plan(min(start, w - OVERLAP_US), start, None)
        return plans

    async def _catch_up(self) -> None:
        reason = "start-up" if not self._started else "reconnection"
        self.current = report = CatchUp(reason, datetime.now(UTC))
        self.history.append(report)
        t0 = time.monotonic()
        if not self.reader.available():
            self._started = True
            report.seconds, report.complete = 0.0, True
            return
        plans = self._plans()
        self._retry = dict(plans)  # what is left to read, should a read fail
        h = await asyncio.to_thread(self.reader.historian)
        newest: dict[str, int] = {}
        for line, plan in plans.items():
            report.lines[line] = {"events_from": from_micros(plan.events_from),
                                  "samples_from": from_micros(plan.samples_from),
                                  "alerts_held_back_until": from_micros(plan.mute_until) if plan.mute_until else None,
                                  "until": from_micros(plan.until) if plan.until else None}
            newest[line] = await self._replay_line(h, line, plan, report)
            del self._retry[line]
        self._retry, self._started = None, True
        self.rebuilt.set()
        open_ended = {line: plan for line, plan in plans.items() if plan.until is None}
        report.complete = await self._settle(h, open_ended, newest, report, t0)
        report.seconds = round(time.monotonic() - t0, 3)
        log.info("caught up from the historian (%s): %d records replayed, %d already applied, in %.1f s%s",
                 reason, report.replayed, report.duplicates, report.seconds,
                 "" if report.complete else "; the historian stayed behind the live feed")

    async def _replay_line(self, h: Historian, line: str, plan: Plan, report: CatchUp) -> int:
        """Everything of `line` in the plan's range, in time order; the newest timestamp read. Notes in `_retry`
        how far it got, so a read that fails is taken up there."""
        pattern = f"{line}/*"
        newest = plan.samples_from
        until = None if plan.until is None else from_micros(plan.until)
        events = await asyncio.to_thread(h.events, pattern, None, from_micros(plan.events_from), until)
        event_ts = [to_micros(e.ts) for e in events]
        if events:
            newest = max(newest, event_ts[-1])
        cursor = plan.events_from
        if plan.events_from < plan.samples_from:  # before the samples: events, and the alarm codes stops carry
            alarms = await asyncio.to_thread(h.samples, pattern, ALARM_SIGNAL, from_micros(plan.events_from),
                                             from_micros(plan.samples_from))
            await self._apply(_merged(alarms, events, event_ts, plan.events_from, plan.samples_from), plan, report)
            cursor = plan.samples_from
            self._progress(line, plan, cursor)
        stop = plan.until
        while True:
            end = cursor + CHUNK_US
            last = end >= (stop if stop is not None else int(self.clock() * US))
            hi = stop if last else end  # None: the newest there is
            samples = await asyncio.to_thread(h.samples, pattern, "*", from_micros(cursor),
                                              None if hi is None else from_micros(hi))
            if samples:
                newest = max(newest, max(to_micros(s.ts) for s in samples))
            await self._apply(_merged(samples, events, event_ts, cursor, hi), plan, report)
            if last:
                return newest
            cursor = end
            self._progress(line, plan, cursor)

    def _progress(self, line: str, plan: Plan, cursor: int) -> None:
        if self._retry is not None and line in self._retry:
            self._retry[line] = replace(plan, events_from=cursor, samples_from=max(cursor, plan.samples_from))

    async def _apply(self, records: Iterable[Record], plan: Plan, report: CatchUp) -> None:
        for i, r in enumerate(records):
            if i and i % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # live requests are served meanwhile
            if self.seen.known(r):
                report.duplicates += 1
                continue
            self.alerts.muted = plan.mute_until is not None and to_micros(r.ts) <= plan.mute_until
            try:
                self.twin.apply(r)
            except Rejected:
                report.rejected += 1  # history may hold assets or signals the plant model no longer has
                continue
            finally:
                self.alerts.muted = False
            self.seen.add(r)
            report.replayed += 1

    async def _settle(self, h: Historian, plans: dict[str, Plan], newest: dict[str, int], report: CatchUp,
                      t0: float) -> bool:
        """Until the historian holds what the live feed brought, read what arrives. Gives up after `settle_s`,
        or when the historian has had nothing new for `STALLED_S` (its writer is away: waiting would only
        hold the live state back)."""
        deadline = t0 + self.config.settle_s
        progress = time.monotonic()
        while True:
            waiting = [line for line in plans if not self._settled(line, newest.get(line, 0), t0)]
            if not waiting:
                return True
            now = time.monotonic()
            if now >= deadline or now - progress >= STALLED_S:
                log.warning("the historian is behind the live feed on %s (%s): what it did not hold yet is "
                            "missing from the backfill", ", ".join(waiting),
                            f"after {self.config.settle_s:.0f} s" if now >= deadline else "nothing new in it")
                return False
            await asyncio.sleep(SETTLE_POLL_S)
            for line in waiting:
                since = newest.get(line, plans[line].samples_from) - OVERLAP_US
                got = await self._replay_line(h, line, Plan(since, since, None), report)
                if got > newest.get(line, 0):
                    newest[line], progress = got, time.monotonic()

    def _settled(self, line: str, newest: int, t0: float) -> bool:
        first = self._first_live.get(line)
        if first is not None:
            return newest >= first
        return not self.connected() or time.monotonic() - t0 >= QUIET_S

    # ---- what it did -----------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "catching_up": self.holding,
                "held": len(self.held), "live_duplicates_skipped": self.duplicates,
                "watermarks": {line: from_micros(us) for line, us in sorted(self.seen.watermarks.items())},
                "catch_ups": [c.as_dict() for c in self.history]}


def _merged(samples: list[Sample], events: list[Event], event_ts: list[int], lo: int, hi: int | None
            ) -> list[Record]:
    """Samples and the events of [lo, hi) in time order; at one instant samples first, as the agent sends them
    (its events follow the samples they were derived from)."""
    a = bisect.bisect_left(event_ts, lo)
    b = len(event_ts) if hi is None else bisect.bisect_left(event_ts, hi)
    keyed: list[tuple[int, int, int, Record]] = [(to_micros(s.ts), 0, i, s) for i, s in enumerate(samples)]
    keyed += [(event_ts[j], 1, j, events[j]) for j in range(a, b)]
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


__all__ = ["Admission", "Backfill", "Held", "Seen", "line_of", "record_key"]
