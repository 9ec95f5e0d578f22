"""The embedded historian: one SQLite file in WAL mode, safe for one writer and many readers.

Series get integer ids; samples are stored per series in time order (a WITHOUT ROWID table keyed
by series and timestamp in microseconds), so a range query on one signal is a single index walk.
WAL with synchronous=NORMAL survives a killed process (only a power cut can lose the last commits).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import orjson

from plantmodel.telemetry import Event, EventKind, Quality, Record, Sample, from_micros, to_micros

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    asset TEXT NOT NULL,
    signal TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    UNIQUE (asset, signal)
);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL REFERENCES series (id),
    ts INTEGER NOT NULL,            -- microseconds since the epoch, UTC
    value,                          -- REAL, INTEGER or TEXT, as the source sent it
    quality TEXT NOT NULL,
    PRIMARY KEY (series, ts)
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


class SqliteHistorian:
    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _series_id(self, asset: str, signal: str, unit: str) -> int:
        key = (asset, signal)
        sid = self._series.get(key)
        if sid is None:
            self._db.execute("INSERT OR IGNORE INTO series (asset, signal, unit) VALUES (?, ?, ?)",
                             (asset, signal, unit))
            sid = self._db.execute("SELECT id FROM series WHERE asset = ? AND signal = ?", key).fetchone()[0]
            self._series[key] = sid
        return sid

    def write(self, records: Sequence[Record]) -> None:
        with self._lock, self._db:
            rows = [(self._series_id(r.asset, r.signal, r.unit), to_micros(r.ts), r.value, str(r.quality))
                    for r in records if isinstance(r, Sample)]
            self._db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?)", rows)
            self._db.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)",
                [(r.asset, to_micros(r.ts), str(r.kind), orjson.dumps(dict(r.data), option=orjson.OPT_SORT_KEYS))
                 for r in records if isinstance(r, Event)])

    def samples(self, asset: str = "*", signal: str = "*", start: datetime | None = None,
                end: datetime | None = None) -> list[Sample]:
        rows = self._query(
            "SELECT s.asset, s.signal, v.value, s.unit, v.ts, v.quality FROM series s JOIN samples v"
            " ON v.series = s.id WHERE s.asset GLOB ? AND s.signal GLOB ? AND v.ts >= ? AND v.ts < ?"
            " ORDER BY s.asset, s.signal, v.ts", (asset, signal, *_range(start, end)))
        return [Sample(a, sig, val, unit, from_micros(ts), Quality(q)) for a, sig, val, unit, ts, q in rows]

    def latest(self, asset: str = "*", signal: str = "*") -> list[Sample]:
        rows = self._query(
            "SELECT s.asset, s.signal, v.value, s.unit, v.ts, v.quality FROM series s JOIN samples v"
            " ON v.series = s.id AND v.ts = (SELECT max(ts) FROM samples WHERE series = s.id)"
            " WHERE s.asset GLOB ? AND s.signal GLOB ? ORDER BY s.asset, s.signal", (asset, signal))
        return [Sample(a, sig, val, unit, from_micros(ts), Quality(q)) for a, sig, val, unit, ts, q in rows]

    def events(self, asset: str = "*", kind: EventKind | None = None, start: datetime | None = None,
               end: datetime | None = None) -> list[Event]:
        rows = self._query(
            "SELECT asset, ts, kind, data FROM events WHERE asset GLOB ? AND kind GLOB ? AND ts >= ? AND ts < ?"
            " ORDER BY ts, asset", (asset, str(kind) if kind else "*", *_range(start, end)))
        return [Event(a, EventKind(k), from_micros(ts), orjson.loads(d)) for a, ts, k, d in rows]

    def count_samples(self) -> int:
        return self._query("SELECT count(*) FROM samples", ())[0][0]

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()


def _range(start: datetime | None, end: datetime | None) -> tuple[int, int]:
    return (to_micros(start) if start else -(2**62), to_micros(end) if end else 2**62)
