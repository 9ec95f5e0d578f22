"""Rejected input is counted by reason and kept, raw, for inspection; nothing bad is silently dropped.

The store is a SQLite file beside the agent's other data, bounded to the newest `keep` rows.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from plantmodel.files import private_file
from plantmodel.logbudget import LogBudget

log = logging.getLogger(__name__)
_budget = LogBudget(log)


@dataclass(frozen=True, slots=True)
class Rejection:
    received_at: float  # epoch seconds
    source: str
    reason: str  # short code: malformed_json, missing, wrong_type, not_finite, bad_timestamp, ...
    field: str  # what was wrong, e.g. "batteryState.batteryCharge"
    detail: str  # the full message
    topic: str
    payload: bytes


class Quarantine:
    def __init__(self, path: Path | str, keep: int = 100_000) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        private_file(path)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY, received_at REAL, source TEXT,"
            " reason TEXT, field TEXT, detail TEXT, topic TEXT, payload BLOB)")
        self._lock = threading.Lock()
        self.keep = keep
        self.counts: Counter[tuple[str, str]] = Counter()  # (source, reason) -> rejected since start

    def reject(self, source: str, reason: str, field: str, detail: str, topic: str = "",
               payload: bytes = b"") -> None:
        """Thread-safe: MQTT callbacks run on the client's own thread."""
        with self._lock:
            self.counts[(source, reason)] += 1
            with self._db:
                cur = self._db.execute(
                    "INSERT INTO rejected (received_at, source, reason, field, detail, topic, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)", (time.time(), source, reason, field, detail, topic, payload))
                if cur.lastrowid and cur.lastrowid % 1000 == 0:
                    self._db.execute("DELETE FROM rejected WHERE id <= ?", (cur.lastrowid - self.keep,))
        _budget.warning(f"{source}/{reason}", "rejected from %s (%s) %s: %s", source, topic[:200] or "-", field,
                        detail[:500], extra={"source": source, "topic": topic[:200], "reason": reason, "field": field})

    def recent(self, limit: int = 100) -> list[Rejection]:
        with self._lock:
            rows = self._db.execute(
                "SELECT received_at, source, reason, field, detail, topic, payload FROM rejected"
                " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [Rejection(*row) for row in rows]

    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        with self._lock:
            self._db.close()
