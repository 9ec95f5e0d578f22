"""The embedded historian: one SQLite file in WAL mode, safe for one writer and many readers.

Series get integer ids; samples are stored per series in time order (a WITHOUT ROWID table keyed by
series and timestamp in microseconds), so a range query on one signal is a single index walk. Each write
also refreshes the one-minute rollups (count, sum, min, max, last) of the minutes it touched, in the same
transaction: whole-minute window queries read those instead of the raw rows, and they outlive the raw
samples when retention drops them. WAL with synchronous=NORMAL survives a killed process (a committed
batch is never lost or torn; only a power cut can lose the last commits).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import orjson

from historian.base import Rejection, Window, WriteReport
from historian.checks import NUMERIC_KINDS, OLDEST_US, ONE_US, Gate, Refusal
from historian.retention import RetentionRule, cutoff_us, rule_for
from plantmodel.catalog import SignalKind
from plantmodel.files import private_file
from plantmodel.telemetry import EPOCH, Event, EventKind, Quality, Record, Sample, to_micros

SCHEMA_VERSION = 2
MINUTE_US = 60_000_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    asset TEXT NOT NULL,
    signal TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,             -- plantmodel.catalog.SignalKind: analog and counter are numeric
    UNIQUE (asset, signal)
);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL,
    ts INTEGER NOT NULL,            -- microseconds since the epoch, UTC
    value REAL,                     -- numeric series
    text TEXT,                      -- text series (states, missions)
    quality INTEGER NOT NULL,       -- 0 good, 1 uncertain, 2 bad
    PRIMARY KEY (series, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup (  -- one row per series and minute, bad-quality samples left out
    series INTEGER NOT NULL,
    minute INTEGER NOT NULL,        -- ts // 60 s
    n INTEGER NOT NULL,
    total REAL, lo REAL, hi REAL,
    last_value REAL, last_text TEXT,
    PRIMARY KEY (series, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    asset TEXT NOT NULL,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,             -- JSON object
    UNIQUE (asset, ts, kind, data)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (ts);
"""
_ROLL = """
INSERT INTO rollup
SELECT g.series, g.minute, g.n, g.total, g.lo, g.hi, s.value, s.text FROM (
    SELECT series, ts / 60000000 AS minute, count(*) AS n, sum(value) AS total, min(value) AS lo,
           max(value) AS hi, max(ts) AS last_ts
    FROM samples WHERE series = ?1 AND ts >= ?2 AND ts < ?3 AND quality < 2 GROUP BY minute
) g JOIN samples s ON s.series = g.series AND s.ts = g.last_ts
"""
_WINDOWS_RAW = """
SELECT g.w, g.n, g.total, g.lo, g.hi, s.value, s.text FROM (
    SELECT ts / ?1 AS w, count(*) AS n, sum(value) AS total, min(value) AS lo, max(value) AS hi, max(ts) AS last_ts
    FROM samples WHERE series = ?2 AND ts >= ?3 AND ts < ?4 AND quality < 2 GROUP BY w
) g JOIN samples s ON s.series = ?2 AND s.ts = g.last_ts ORDER BY g.w
"""
_WINDOWS_ROLLUP = """
SELECT g.w, g.n, g.total, g.lo, g.hi, r.last_value, r.last_text FROM (
    SELECT minute / ?1 AS w, sum(n) AS n, sum(total) AS total, min(lo) AS lo, max(hi) AS hi, max(minute) AS lm
    FROM rollup WHERE series = ?2 AND minute >= ?3 AND minute < ?4 GROUP BY w
) g JOIN rollup r ON r.series = ?2 AND r.minute = g.lm ORDER BY g.w
"""
_QUALITY_CODE = {Quality.GOOD: 0, Quality.UNCERTAIN: 1, Quality.BAD: 2}
_QUALITY = (Quality.GOOD, Quality.UNCERTAIN, Quality.BAD)
_FAR = 2**62
_KINDS = {str(k): k for k in EventKind}
#: seconds -> UTC datetime; twice as fast as EPOCH + timedelta, and exact to the microsecond (rounds half-even)
_at = partial(datetime.fromtimestamp, tz=UTC)


class HistoryFormatError(RuntimeError):
    """The file holds history in a format this version does not read; it is never overwritten."""


def file_schema(path: Path) -> int | None:
    """The schema version of an existing history file (None: no file, or no history in it yet)."""
    if not Path(path).exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if not db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'samples'").fetchone()[0]:
            return None
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


class SqliteHistorian:
    """Thread-safe; open one writer per file and any number of ``readonly=True`` readers, in any process."""

    def __init__(self, path: Path | str, *, readonly: bool = False, retention: Sequence[RetentionRule] = (),
                 max_future_s: float = 3600.0, maintenance_interval_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.retention = list(retention)
        self.gate = Gate(max_future_s, clock)
        self.clock = clock
        self.maintenance_interval_s = maintenance_interval_s
        self._lock = threading.Lock()
        # (asset, signal) -> [series id, numeric?, oldest timestamp accepted]
        self._series: dict[tuple[str, str], list] = {}
        if readonly:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=5000")
            self._next_maintenance: float = _FAR
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        private_file(self.path)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=5000")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'samples'").fetchone()[0]
        if tables and version != SCHEMA_VERSION:
            self._db.close()
            raise HistoryFormatError(f"{self.path}: history file of schema {version}, this version reads "
                               f"{SCHEMA_VERSION}; move the file away to start a new one")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # under WAL: durable against a killed process
        self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB: the hot end of every series stays cached
        with self._db:
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        for sid, asset, signal, kind in self._db.execute("SELECT id, asset, signal, kind FROM series"):
            self._remember(sid, asset, signal, kind)
        self._next_maintenance = 0.0
        self.maintain()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ---------------------------------------------------------------------------------------

    def _remember(self, sid: int, asset: str, signal: str, kind: str) -> list:
        self.gate.kinds[(asset, signal)] = SignalKind(kind)
        cut = cutoff_us(rule_for(self.retention, signal).raw_days, int(self.clock() * 1_000_000))
        entry = [sid, SignalKind(kind) in NUMERIC_KINDS, max(OLDEST_US, cut or OLDEST_US)]
        self._series[(asset, signal)] = entry
        return entry

    def _open_series(self, r: Sample) -> list | Refusal:
        kind = self.gate.series_kind(r.asset, r.signal, r.value)
        if isinstance(kind, Refusal):
            return kind
        self._db.execute("INSERT OR IGNORE INTO series (asset, signal, unit, kind) VALUES (?, ?, ?, ?)",
                         (r.asset, r.signal, r.unit, str(kind)))
        sid, stored_kind = self._db.execute("SELECT id, kind FROM series WHERE asset = ? AND signal = ?",
                                            (r.asset, r.signal)).fetchone()
        return self._remember(sid, r.asset, r.signal, stored_kind)

    def write(self, records: Sequence[Record]) -> WriteReport:
        """One transaction per call: larger batches insert faster (tens of thousands of samples is fine)."""
        rows: list[tuple] = []
        events: list[tuple] = []
        rejected: list[Rejection] = []
        _, newest = self.gate.time_window_us()
        series, quality_code = self._series, _QUALITY_CODE
        with self._lock, self._db:
            for r in records:
                if r.__class__ is Sample:  # the hot path: kept free of calls where it can be
                    entry = series.get((r.asset, r.signal))
                    if entry is None:
                        opened = self._open_series(r)
                        if isinstance(opened, Refusal):
                            rejected.append(opened.of(r))
                            continue
                        entry = opened
                    sid, numeric, oldest = entry
                    try:
                        us = (r.ts - EPOCH) // ONE_US
                    except TypeError:  # a naive datetime: UTC
                        us = to_micros(r.ts)
                    if not oldest <= us <= newest:
                        rejected.append(self._time_refusal(us, oldest, r))
                        continue
                    v = r.value
                    if numeric and v.__class__ is float and v - v == 0.0:  # v - v is NaN for NaN and inf
                        rows.append((sid, us, v, None, quality_code[r.quality]))
                    else:
                        value = self.gate.value(self.gate.kinds[(r.asset, r.signal)], v)
                        if value.__class__ is Refusal:
                            rejected.append(value.of(r))
                            continue
                        rows.append((sid, us, value, None, quality_code[r.quality]) if numeric
                                    else (sid, us, None, value, quality_code[r.quality]))
                elif isinstance(r, Event):
                    row = self.gate.event(r, newest)
                    if isinstance(row, Refusal):
                        rejected.append(row.of(r))
                    else:
                        events.append(row)
                else:
                    rejected.append(Rejection(r, "wrong_type", "record", f"not a Sample or Event: {type(r).__name__}"))
            self._db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?)", rows)
            self._db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)", events)
            self._roll_up(rows)
        if self.clock() >= self._next_maintenance:
            self.maintain()
        return WriteReport(len(rows) + len(events), rejected)

    def _time_refusal(self, us: int, oldest: int, r: Sample) -> Rejection:
        if OLDEST_US < oldest and us < oldest:
            return Rejection(r, "bad_timestamp", "ts", f"older than the raw retention of {r.signal}")
        return self.gate.timestamp_refusal(us).of(r)

    def _roll_up(self, rows: list[tuple]) -> None:
        """Recompute the rollups of every (series, minute) the rows touched, as contiguous runs."""
        minutes: defaultdict[int, set[int]] = defaultdict(set)
        for sid, minute in {(row[0], row[1] // MINUTE_US) for row in rows}:
            minutes[sid].add(minute)
        for sid, touched in minutes.items():
            ordered = sorted(touched)
            first = prev = ordered[0]
            for m in [*ordered[1:], None]:
                if m is not None and m == prev + 1:
                    prev = m
                    continue
                self._db.execute("DELETE FROM rollup WHERE series = ? AND minute >= ? AND minute <= ?",
                                 (sid, first, prev))
                self._db.execute(_ROLL, (sid, first * MINUTE_US, (prev + 1) * MINUTE_US))
                if m is not None:
                    first = prev = m

    def maintain(self) -> None:
        """Apply retention: drop raw samples, then rollups, past their measurement's limits."""
        now_us = int(self.clock() * 1_000_000)
        self._next_maintenance = self.clock() + self.maintenance_interval_s
        if not self.retention:
            return
        with self._lock, self._db:
            for (_, signal), entry in self._series.items():
                rule = rule_for(self.retention, signal)
                raw_cut, rollup_cut = cutoff_us(rule.raw_days, now_us), cutoff_us(rule.rollup_days, now_us)
                if raw_cut is not None:
                    entry[2] = max(OLDEST_US, raw_cut)
                    self._db.execute("DELETE FROM samples WHERE series = ? AND ts < ?", (entry[0], raw_cut))
                if rollup_cut is not None:
                    self._db.execute("DELETE FROM rollup WHERE series = ? AND minute < ?",
                                     (entry[0], rollup_cut // MINUTE_US))

    # -- reading ---------------------------------------------------------------------------------------

    def _matching(self, asset: str, signal: str) -> list[tuple[int, str, str, str, str]]:
        return self._query("SELECT id, asset, signal, unit, kind FROM series WHERE asset GLOB ? AND signal GLOB ?"
                           " ORDER BY asset, signal", (_glob(asset), _glob(signal)))

    def samples(self, asset: str = "*", signal: str = "*", start: datetime | None = None,
                end: datetime | None = None) -> list[Sample]:
        lo, hi = _range(start, end)
        out: list[Sample] = []
        with self._lock:
            for sid, a, sig, unit, _ in self._matching_locked(asset, signal):
                rows = self._db.execute("SELECT ts, value, text, quality FROM samples WHERE series = ? AND ts >= ?"
                                        " AND ts < ? ORDER BY ts", (sid, lo, hi)).fetchall()
                out.extend(Sample(a, sig, v if t is None else t, unit, _at(ts / 1e6), _QUALITY[q])
                           for ts, v, t, q in rows)
        return out

    def windows(self, asset: str, signal: str, start: datetime, end: datetime, every_s: int) -> list[Window]:
        """Whole-minute windows on whole-minute bounds come from the rollups; any others from raw samples."""
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        lo, hi = to_micros(start), to_micros(end)
        every_us = every_s * 1_000_000
        from_rollup = every_s % 60 == 0 and lo % MINUTE_US == 0 and hi % MINUTE_US == 0
        first_w, last_w = lo // every_us, (hi - 1) // every_us
        out: list[Window] = []
        with self._lock:
            for sid, a, sig, _, _ in self._matching_locked(asset, signal):
                if from_rollup:
                    rows = self._db.execute(_WINDOWS_ROLLUP, (every_s // 60, sid, lo // MINUTE_US,
                                                              hi // MINUTE_US)).fetchall()
                else:
                    rows = self._db.execute(_WINDOWS_RAW, (every_us, sid, lo, hi)).fetchall()
                if not rows:
                    continue
                by_w = {row[0]: row for row in rows}
                for w in range(first_w, last_w + 1):
                    t0 = EPOCH + timedelta(microseconds=w * every_us)
                    row = by_w.get(w)
                    if row is None:
                        out.append(Window(a, sig, t0, 0))
                    else:
                        _, n, total, low, high, last_v, last_t = row
                        out.append(Window(a, sig, t0, n, None if total is None else total / n, low, high,
                                          last_v if last_t is None else last_t))
        return out

    def latest(self, asset: str = "*", signal: str = "*", at: datetime | None = None) -> list[Sample]:
        out: list[Sample] = []
        hi = _FAR if at is None else to_micros(at)
        with self._lock:
            for sid, a, sig, unit, _ in self._matching_locked(asset, signal):
                row = self._db.execute("SELECT ts, value, text, quality FROM samples WHERE series = ? AND ts <= ?"
                                       " ORDER BY ts DESC LIMIT 1", (sid, hi)).fetchone()
                if row:
                    ts, v, t, q = row
                    out.append(Sample(a, sig, v if t is None else t, unit, EPOCH + timedelta(microseconds=ts),
                                      _QUALITY[q]))
        return out

    def events(self, asset: str = "*", kind: EventKind | None = None, start: datetime | None = None,
               end: datetime | None = None) -> list[Event]:
        rows = self._query(
            "SELECT asset, ts, kind, data FROM events WHERE asset GLOB ? AND kind GLOB ? AND ts >= ? AND ts < ?"
            " ORDER BY ts, asset, kind, data", (_glob(asset), str(kind) if kind else "*", *_range(start, end)))
        return [Event(a, _KINDS[k], _at(ts / 1e6), orjson.loads(d)) for a, ts, k, d in rows]

    def count_samples(self) -> int:
        return self._query("SELECT count(*) FROM samples", ())[0][0]

    def series(self) -> list[tuple[str, str, str, str]]:
        """(asset, signal, unit, kind) of every series stored."""
        return [(a, s, u, k) for _, a, s, u, k in self._matching("*", "*")]

    def _matching_locked(self, asset: str, signal: str) -> list[tuple[int, str, str, str, str]]:
        return self._db.execute("SELECT id, asset, signal, unit, kind FROM series WHERE asset GLOB ?"
                                " AND signal GLOB ? ORDER BY asset, signal", (_glob(asset), _glob(signal))).fetchall()

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()


def _glob(pattern: str) -> str:
    """Our wildcards are * and ?; SQLite's GLOB would also read [ as a character class."""
    return pattern.replace("[", "[[]")


def _range(start: datetime | None, end: datetime | None) -> tuple[int, int]:
    return (to_micros(start) if start else -_FAR, to_micros(end) if end else _FAR)

