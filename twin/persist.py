"""The twin's live state and people's input, kept in the twin's database so a restart forgets nothing.

Latest values are written behind (every `flush_s`, one upsert per changed signal), so the hot path of a
sample stays a dict update. Stop reasons given by people are written at once: they exist nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import orjson

from plantmodel.clock import Clock
from plantmodel.telemetry import Quality, Record, Sample, from_micros, to_micros
from plantmodel.validation import Window
from twin.db import TwinDatabase
from twin.downtime import StopLog
from twin.state import PlantTwin, SignalState

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS twin_signal (
    asset TEXT NOT NULL, signal TEXT NOT NULL, value TEXT NOT NULL, unit TEXT NOT NULL, ts INTEGER NOT NULL,
    quality TEXT NOT NULL, PRIMARY KEY (asset, signal)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS twin_asset (asset TEXT PRIMARY KEY, state_since INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS twin_stop_reason (
    stop_id TEXT PRIMARY KEY, reason TEXT NOT NULL, by TEXT NOT NULL, comment TEXT, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS twin_watermark (line TEXT PRIMARY KEY, ts INTEGER NOT NULL) WITHOUT ROWID;
"""


class StateStore:
    def __init__(self, db: TwinDatabase, twin: PlantTwin, flush_s: float = 1.0, clock: Clock | None = None,
                 max_future_s: float = 300.0, watermarks: Callable[[], dict[str, int]] | None = None) -> None:
        """`watermarks`: per line, the newest instant the twin has applied (µs), saved with the state so a
        restart knows where its gap began (twin/backfill.py)."""
        self.db, self.twin, self.flush_s = db, twin, flush_s
        #: the twin's window for future timestamps (plantmodel.validation), applied to what was saved too
        self.window = Window(max_future_s, clock.now_us) if clock is not None else None
        db.script(_SCHEMA)
        self._dirty: set[tuple[str, str]] = set()
        self.flushes = 0
        self.watermarks = watermarks
        self._saved_marks: dict[str, int] = {}

    def observe(self, record: Record) -> None:
        if isinstance(record, Sample):
            self._dirty.add((record.asset, record.signal))

    def load(self) -> int:
        """Put the last saved state back into the twin (before the feed starts); the count of signals restored.

        A value stamped beyond the plant clock's window for future timestamps is left out: it would hide every
        real value after it (a forged one, or one from a faster run of a simulator)."""
        n, ahead = 0, 0
        newest = self.window.newest_us() if self.window is not None else None
        for asset, signal, value, unit, ts, quality in self.db.execute(
                "SELECT asset, signal, value, unit, ts, quality FROM twin_signal"):
            twin = self.twin.assets.get(asset)
            if twin is None:
                continue  # the plant model no longer has it
            if newest is not None and ts > newest:
                ahead += 1
                continue
            twin.signals[signal] = SignalState(orjson.loads(value), unit, from_micros(ts), Quality(quality))
            n += 1
        for asset, since in self.db.execute("SELECT asset, state_since FROM twin_asset"):
            if asset in self.twin.assets and since is not None and (newest is None or since <= newest):
                self.twin.assets[asset].state_since = from_micros(since)
        log.info("restored %d signal values from %s", n, self.db.path)
        if ahead:
            log.warning("left out %d saved values stamped ahead of the plant clock", ahead)
        return n

    def load_watermarks(self) -> dict[str, int]:
        self._saved_marks = dict(self.db.execute("SELECT line, ts FROM twin_watermark"))
        return dict(self._saved_marks)

    def flush(self) -> int:
        """Changed values and the watermarks, in one transaction: a restart finds them consistent."""
        marks = self.watermarks() if self.watermarks is not None else {}
        changed = [(line, ts) for line, ts in marks.items() if self._saved_marks.get(line) != ts]
        dirty, self._dirty = self._dirty, set()
        rows, assets = [], set()
        for asset, signal in dirty:
            twin = self.twin.assets.get(asset)
            s = twin.signals.get(signal) if twin else None
            if s is None:
                continue
            rows.append((asset, signal, orjson.dumps(s.value).decode(), s.unit, to_micros(s.ts), str(s.quality)))
            assets.add(asset)
        if not rows and not changed:
            return 0
        since = [(a, to_micros(t.state_since) if (t := self.twin.assets[a]).state_since else None) for a in assets]
        with self.db.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO twin_signal VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.executemany("INSERT OR REPLACE INTO twin_asset VALUES (?, ?)", since)
            conn.executemany("INSERT OR REPLACE INTO twin_watermark VALUES (?, ?)", changed)
        self._saved_marks.update(changed)
        self.flushes += 1
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.flush_s)
            except TimeoutError:
                pass
            try:
                self.flush()
            except Exception:  # a full disk must not stop the twin; the next flush tries again
                log.exception("could not save the twin's state to %s", self.db.path)

    # Stop reasons given by people

    def save_reason(self, stop_id: str, reason: str, by: str, comment: str | None, at: datetime) -> None:
        self.db.execute("INSERT OR REPLACE INTO twin_stop_reason VALUES (?, ?, ?, ?, ?)",
                        (stop_id, reason, by, comment, to_micros(at)))

    def restore_reasons(self, stops: StopLog) -> int:
        n = 0
        for stop_id, reason, by, comment, at in self.db.execute("SELECT * FROM twin_stop_reason"):
            n += stops.qualify(stop_id, reason, by, comment, from_micros(at)) is not None
        return n
