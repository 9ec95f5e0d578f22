"""The twin's own embedded database: what it must not forget across a restart.

One SQLite file in WAL mode. Each part of the twin (live state, alerts, jobs, audit log, stop reasons) owns
its tables and creates them with ``CREATE TABLE IF NOT EXISTS`` on the connection it is given. The
connection is used from the event loop only (the twin's single writer); writes are small and commit at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from plantmodel.files import private_file


class TwinDatabase:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            private_file(self.path)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash
        self.conn.execute("PRAGMA busy_timeout=5000")
        # INSERT OR REPLACE then fires delete triggers, so the append-only audit log cannot be rewritten that way
        self.conn.execute("PRAGMA recursive_triggers=ON")

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def script(self, sql: str) -> None:
        self.conn.executescript(sql)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()
