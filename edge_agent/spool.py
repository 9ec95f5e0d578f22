"""Store-and-forward: every record is committed to a local spool before any sink sees it.

Each sink reads the spool from its own cursor and moves the cursor only after the sink confirmed a batch,
so a sink that is down for an hour catches up afterwards and a `kill -9` of the agent loses nothing it had
committed. The spool is a SQLite file in WAL mode: rows of records in arrival order, and one cursor per
sink. Its size is bounded; when it is full, the overflow policy decides what goes, and every record that
a sink never received is counted against that sink.

Records are committed in groups (every `commit_interval_s` or `commit_records`, whichever comes first),
so a crash can lose at most the group being gathered; `synchronous: full` also survives a power cut, at
the price of an fsync per group.

A commit never fails for what one record holds: records are encoded when they arrive, and one that cannot be
(an integer beyond 64 bits, say) is handed to `refuse` alone while the rest of its group goes on. A commit
that fails for the file's sake (disk full, I/O error) keeps the group and its acknowledgements and tries
again, so nothing is lost or acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from plantmodel.files import private_file
from plantmodel.telemetry import Event, EventKind, Quality, Record, Sample, from_micros, to_micros

log = logging.getLogger(__name__)


URGENT_S = 0.002  # a commit that a source waits on: soon, yet late enough for many messages to share it


class OverflowPolicy(StrEnum):
    DROP_OLDEST = "drop_oldest"  # keep the newest data; the slowest sink loses the oldest
    DROP_NEWEST = "drop_newest"  # keep what is spooled; refuse new records while full


class Synchronous(StrEnum):
    NORMAL = "normal"  # survives a crash of the agent (the OS holds the WAL)
    FULL = "full"  # survives a power cut too


def encode(records: Sequence[Record]) -> bytes:
    out: list[list[Any]] = []
    for r in records:
        if isinstance(r, Sample):
            row: list[Any] = [r.asset, r.signal, r.value, r.unit, to_micros(r.ts), r.quality.value]
            if r.status or r.server_ts is not None:
                row += [r.status, to_micros(r.server_ts) if r.server_ts is not None else None]
            out.append(row)
        else:
            out.append([r.asset, r.kind.value, to_micros(r.ts), dict(r.data)])
    return orjson.dumps(out)


def decode(payload: bytes) -> list[Record]:
    out: list[Record] = []
    for r in orjson.loads(payload):
        if len(r) == 6:
            out.append(Sample(r[0], r[1], r[2], r[3], from_micros(r[4]), Quality(r[5])))
        elif len(r) == 8:
            out.append(Sample(r[0], r[1], r[2], r[3], from_micros(r[4]), Quality(r[5]), r[6],
                              from_micros(r[7]) if r[7] is not None else None))
        else:
            out.append(Event(r[0], EventKind(r[1]), from_micros(r[2]), r[3]))
    return out


@dataclass(slots=True)
class Cursor:
    seq: int  # last row the sink confirmed
    cum: int  # records up to and including that row
    dropped: int = 0  # records this sink never received (overflow)


@dataclass(slots=True)
class _Row:
    seq: int
    cum: int
    appended_us: int
    records: list[Record]
    payload: bytes  # encoded on arrival, so the commit cannot fail for its content


Refuse = Callable[[Record, str], None]  # a record that cannot be spooled, and why


def _log_refusal(record: Record, why: str) -> None:
    log.error("record not spooled (%s): %.200r", why, record)


@dataclass
class SpoolStats:
    appended: int = 0
    refused: int = 0  # records not spooled (drop_newest while full)
    rejected: int = 0  # records that could not be encoded (handed to `refuse`)
    dropped: dict[str, int] = field(default_factory=dict)


class Spool:
    def __init__(self, path: Path, sinks: Sequence[str], max_records: int = 5_000_000,
                 overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
                 synchronous: Synchronous = Synchronous.NORMAL, commit_interval_s: float = 0.05,
                 commit_records: int = 5_000, cache_records: int = 20_000, refuse: Refuse = _log_refusal,
                 retry_s: float = 1.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        private_file(path)
        self.path, self.max_records, self.overflow = path, max_records, overflow
        self.commit_interval_s, self.commit_records, self.cache_records = commit_interval_s, commit_records, \
            cache_records
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.value.upper()}")
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY, cum INTEGER NOT NULL,"
            " appended_us INTEGER NOT NULL, payload BLOB NOT NULL);"
            "CREATE TABLE IF NOT EXISTS cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL, cum INTEGER NOT NULL,"
            " dropped INTEGER NOT NULL DEFAULT 0);")
        last = self._db.execute("SELECT seq, cum FROM rows ORDER BY seq DESC LIMIT 1").fetchone()
        known = {s: Cursor(q, c, d) for s, q, c, d in self._db.execute("SELECT sink, seq, cum, dropped FROM cursors")}
        kept = [c.seq for s, c in known.items() if s in sinks]
        if kept:  # rows that only a sink no longer configured needed can go
            self._db.execute("DELETE FROM rows WHERE seq <= ?", (min(kept),))
        floor = self._db.execute("SELECT seq, cum FROM rows ORDER BY seq LIMIT 1").fetchone()
        newest: tuple[int, int] = last if last else max(((c.seq, c.cum) for c in known.values()), default=(0, 0))
        self.last_seq, self.last_cum = newest
        # a new sink starts at the oldest record still spooled; a sink no longer configured lets go of its rows
        start = (floor[0] - 1, floor[1] - self._row_n(floor[0])) if floor else (self.last_seq, self.last_cum)
        self.cursors = {s: known.get(s) or Cursor(*start) for s in sinks}
        with self._tx():
            self._db.execute(f"DELETE FROM cursors WHERE sink NOT IN ({','.join('?' * len(sinks))})", tuple(sinks))
            for s, c in self.cursors.items():
                self._save(s, c)
        self.stats = SpoolStats(dropped={s: c.dropped for s, c in self.cursors.items()})
        self.refuse, self.retry_s = refuse, retry_s
        self.commit_error: str | None = None  # why the last commit failed, until one succeeds
        self._pending: list[_Row] = []
        self._callbacks: list[Callable[[], None]] = []
        self._pending_records = 0
        self._cache: deque[_Row] = deque()
        self._cache_records = 0
        self._new = {s: asyncio.Event() for s in sinks}
        self._acked = asyncio.Event()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_urgent = False
        if self.last_seq > min((c.seq for c in self.cursors.values()), default=self.last_seq):
            for e in self._new.values():
                e.set()  # there is a backlog from before the restart

    def _row_n(self, seq: int) -> int:
        prev = self._db.execute("SELECT cum FROM rows WHERE seq < ? ORDER BY seq DESC LIMIT 1", (seq,)).fetchone()
        cur = self._db.execute("SELECT cum FROM rows WHERE seq = ?", (seq,)).fetchone()
        if prev:
            return cur[0] - prev[0]
        payload = self._db.execute("SELECT payload FROM rows WHERE seq = ?", (seq,)).fetchone()[0]
        return len(orjson.loads(payload))

    def _tx(self) -> Any:
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN")

            def __exit__(self, exc_type: object, *_: object) -> None:
                db.execute("ROLLBACK" if exc_type else "COMMIT")
        return _Tx()

    def _save(self, sink: str, c: Cursor) -> None:
        self._db.execute("INSERT INTO cursors (sink, seq, cum, dropped) VALUES (?, ?, ?, ?) ON CONFLICT(sink)"
                         " DO UPDATE SET seq = excluded.seq, cum = excluded.cum, dropped = excluded.dropped",
                         (sink, c.seq, c.cum, c.dropped))

    # -- writing -------------------------------------------------------------------------------------
    def append(self, records: list[Record], committed: Callable[[], None] | None = None) -> None:
        """Gather records for the next commit (on the event loop); `committed` is called once they are durable
        (an MQTT source acknowledges its message to the broker only then)."""
        if committed is not None:
            self._callbacks.append(committed)
        if not records:
            if committed is not None:
                self._schedule()
            return
        records, payload = self._encode(records)
        if not records:
            self._schedule()
            return
        if self.overflow is OverflowPolicy.DROP_NEWEST and self.depth_max() + len(records) > self.max_records:
            self.stats.refused += len(records)
            for s in self.stats.dropped:
                self.stats.dropped[s] += len(records)
                self.cursors[s].dropped += len(records)
            self._schedule()
            return
        self.last_seq += 1
        self.last_cum += len(records)
        self._pending.append(_Row(self.last_seq, self.last_cum, time.time_ns() // 1000, records, payload))
        self._pending_records += len(records)
        self.stats.appended += len(records)
        if self._pending_records >= self.commit_records:
            self.flush()
        else:
            self._schedule()

    def _encode(self, records: list[Record]) -> tuple[list[Record], bytes]:
        """The records that can be spooled and their encoding; each one that cannot goes to `refuse` alone."""
        try:
            return list(records), encode(records)
        except (TypeError, ValueError, OverflowError, AttributeError):
            pass
        kept: list[Record] = []
        for r in records:
            try:
                encode([r])
            except (TypeError, ValueError, OverflowError, AttributeError) as exc:
                self.stats.rejected += 1
                self.refuse(r, f"{type(exc).__name__}: {exc}")
            else:
                kept.append(r)
        return kept, encode(kept) if kept else b"[]"

    def _schedule(self) -> None:
        """Commit after `commit_interval_s`, or within URGENT_S when a source waits to acknowledge (the broker
        holds back its next messages until then); either way many records share one commit."""
        urgent = bool(self._callbacks)
        if self._flush_handle is not None and not (urgent and not self._flush_urgent):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (tools, tests): commit at once
            self.flush()
            return
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush_urgent = urgent
        self._flush_handle = loop.call_later(URGENT_S if urgent else self.commit_interval_s, self.flush)

    def flush(self) -> None:
        """Commit what was gathered; only then may sinks see it, and only then are sources told."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending:
            callbacks, self._callbacks = self._callbacks, []
            self._run(callbacks)
            return
        rows = self._pending
        try:
            self._commit(rows)
        except sqlite3.Error as exc:  # the file's fault (disk full, I/O): keep the group and its acks, retry
            self.commit_error = f"{type(exc).__name__}: {exc}"
            log.error("spool commit of %d records failed (%s); retrying in %.1f s", self._pending_records,
                      self.commit_error, self.retry_s)
            self._retry()
            return
        self.commit_error = None
        callbacks, self._callbacks = self._callbacks, []
        self._pending, self._pending_records = [], 0
        for r in rows:
            self._cache.append(r)
            self._cache_records += len(r.records)
        while self._cache and self._cache_records > self.cache_records:
            self._cache_records -= len(self._cache.popleft().records)
        if self.overflow is OverflowPolicy.DROP_OLDEST and self.depth_max() > self.max_records:
            self._drop_oldest()
        for e in self._new.values():
            e.set()
        self._run(callbacks)

    def _commit(self, rows: list[_Row]) -> None:
        with self._tx():
            self._db.executemany("INSERT INTO rows (seq, cum, appended_us, payload) VALUES (?, ?, ?, ?)",
                                 [(r.seq, r.cum, r.appended_us, r.payload) for r in rows])

    def _retry(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next append or flush tries again
        self._flush_handle = loop.call_later(self.retry_s, self.flush)
        self._flush_urgent = True

    @staticmethod
    def _run(callbacks: list[Callable[[], None]]) -> None:
        for cb in callbacks:
            try:
                cb()
            except Exception:
                log.exception("a commit callback failed")

    def _drop_oldest(self) -> None:
        target = self.last_cum - self.max_records  # rows wholly at or below this go
        cut = self._db.execute("SELECT seq, cum FROM rows WHERE cum <= ? ORDER BY seq DESC LIMIT 1",
                               (target,)).fetchone()
        if cut is None:
            return
        seq, cum = cut
        with self._tx():
            for s, c in self.cursors.items():
                if c.seq < seq:
                    lost = cum - c.cum
                    c.dropped += lost
                    self.stats.dropped[s] += lost
                    c.seq, c.cum = seq, cum
                    self._save(s, c)
            self._db.execute("DELETE FROM rows WHERE seq <= ?", (seq,))
        while self._cache and self._cache[0].seq <= seq:
            self._cache_records -= len(self._cache.popleft().records)
        log.warning("spool full (%d records): dropped the oldest, up to row %d", self.max_records, seq)

    # -- reading -------------------------------------------------------------------------------------
    async def wait(self, sink: str, within_s: float | None = None) -> bool:
        """Until there is something new for this sink (True), or `within_s` passed (False)."""
        e = self._new[sink]
        try:
            await asyncio.wait_for(e.wait(), within_s)
        except TimeoutError:
            return False
        return True

    def read(self, sink: str, limit: int, after: int | None = None) -> tuple[int, list[Record]]:
        """Records after the sink's cursor (or after row `after`), whole rows, about `limit`; and the seq to
        confirm them with."""
        start = self.cursors[sink].seq if after is None else after
        out: list[Record] = []
        last = start
        if self._cache and self._cache[0].seq <= start + 1:
            # rows in the cache have consecutive seqs: start at the first row after `start`, not at the oldest
            for r in itertools.islice(self._cache, start + 1 - self._cache[0].seq, None):
                out.extend(r.records)
                last = r.seq
                if len(out) >= limit:
                    break
        else:
            for seq, payload in self._db.execute("SELECT seq, payload FROM rows WHERE seq > ? ORDER BY seq",
                                                 (start,)):
                out.extend(decode(payload))
                last = seq
                if len(out) >= limit:
                    break
        if last == self.last_seq - len(self._pending) or not out:
            self._new[sink].clear()  # read up to the newest committed row
        return last, out

    def _cached(self, seq: int) -> _Row | None:
        """The cached row `seq`, found by its offset from the oldest (the cache's seqs are consecutive)."""
        if not self._cache:
            return None
        i = seq - self._cache[0].seq
        return self._cache[i] if 0 <= i < len(self._cache) else None

    def ack(self, sink: str, seq: int) -> None:
        c = self.cursors[sink]
        if seq <= c.seq:
            return
        cached = self._cached(seq)
        cum = cached.cum if cached is not None else None
        if cum is None:
            row = self._db.execute("SELECT cum FROM rows WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return  # dropped by overflow meanwhile
            cum = row[0]
        c.seq, c.cum = seq, cum
        self._acked.set()
        floor = min(x.seq for x in self.cursors.values())
        with self._tx():
            self._save(sink, c)
            self._db.execute("DELETE FROM rows WHERE seq <= ?", (floor,))

    async def drained(self, within_s: float) -> bool:
        """Until every sink confirmed everything (True), or `within_s` passed (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while self.depth_max() > 0:
            self._acked.clear()
            try:
                await asyncio.wait_for(self._acked.wait(), deadline - loop.time())
            except TimeoutError:
                return False
        return True

    # -- health --------------------------------------------------------------------------------------
    def depth(self, sink: str) -> int:
        """Records committed or gathered that this sink has not confirmed."""
        return self.last_cum - self.cursors[sink].cum

    def depth_max(self) -> int:
        return max((self.depth(s) for s in self.cursors), default=0)

    def oldest_unsent_age_s(self, sink: str) -> float | None:
        c = self.cursors[sink]
        if c.seq >= self.last_seq:
            return None
        r = self._cached(c.seq + 1)
        if r is None:
            r = next((p for p in self._pending if p.seq > c.seq), None)
        if r is not None:
            appended = r.appended_us
        else:
            row = self._db.execute("SELECT appended_us FROM rows WHERE seq > ? ORDER BY seq LIMIT 1",
                                   (c.seq,)).fetchone()
            if row is None:
                return None
            appended = row[0]
        return max(0.0, time.time() - appended / 1e6)

    def close(self) -> None:
        self.flush()
        self._db.close()
