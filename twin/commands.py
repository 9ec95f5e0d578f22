"""Command requests and the audit log, in the twin's database.

A request is pending until a second person approves it (then it is executed and its outcome recorded),
rejects it, or it expires. Every step is appended to ``audit_log``, which triggers make append-only: the
database itself refuses to change or delete an entry, or to write one under a number already used (``INSERT OR
REPLACE`` would otherwise rewrite an entry). Beyond what a trigger can hold (someone with the file can drop
triggers), the log is a hash chain: each entry's hash covers its content and the hash before it, keyed with a
secret from the environment when ``audit_key_env`` is set, so a changed, inserted or removed entry breaks the
chain from there on. `verify` checks it (``factory-twin twin audit verify``); the head is logged at start-up,
so a copy of the log lines anchors it.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import orjson

from twin.db import TwinDatabase

PENDING, APPROVED, REJECTED, EXPIRED, EXECUTED, FAILED = (
    "pending", "approved", "rejected", "expired", "executed", "failed")
SYSTEM = "system"

SCHEMA = """
CREATE TABLE IF NOT EXISTS command_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asset TEXT NOT NULL,
    command TEXT NOT NULL,
    value TEXT,
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at REAL,
    comment TEXT,
    executed_at REAL,
    result TEXT,
    status TEXT,
    latency_ms REAL
);
CREATE INDEX IF NOT EXISTS command_requests_state ON command_requests (state, expires_at);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    command_id INTEGER,
    asset TEXT,
    command TEXT,
    value TEXT,
    comment TEXT,
    result TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_rewrite BEFORE INSERT ON audit_log
WHEN NEW.seq > 0 AND NEW.seq <= (SELECT COALESCE(MAX(seq), 0) FROM audit_log)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
_AUDIT_COLUMNS = "seq, ts, who, action, command_id, asset, command, value, comment, result"


def entry_hash(prev: str, row: tuple[Any, ...], key: bytes | None) -> str:
    """The chain's link: over the previous hash and the entry's columns (seq first) as canonical JSON."""
    data = prev.encode() + b"\n" + orjson.dumps(list(row))
    return hmac.new(key, data, hashlib.sha256).hexdigest() if key else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class AuditCheck:
    entries: int
    legacy: int  # entries written before the chain existed (no hash), all before the first chained one
    head_seq: int | None
    head_hash: str | None
    problem: str | None = None  # the first thing wrong, naming the entry
    keyed: bool = False

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(conn: sqlite3.Connection, key: bytes | None = None) -> AuditCheck:
    """Walk the chain from the first entry: every hash must follow from the one before and the entry's content,
    numbers must be consecutive, and no entry may be missing at the end (SQLite's sequence remembers the last)."""
    prev, last_seq, legacy, n = "", None, 0, 0
    head: str | None = None
    rows = conn.execute(f"SELECT {_AUDIT_COLUMNS}, hash FROM audit_log ORDER BY seq")
    for *row, stored in rows:
        n += 1
        seq = row[0]
        if last_seq is not None and seq != last_seq + 1:
            return AuditCheck(n, legacy, last_seq, head, f"entries {last_seq + 1} to {seq - 1} are missing",
                              key is not None)
        last_seq = seq
        if stored is None:
            if head is not None:
                return AuditCheck(n, legacy, seq, head, f"entry {seq} has no hash, after the chain began",
                                  key is not None)
            legacy += 1
            continue
        expected = entry_hash(prev, tuple(row), key)
        if not hmac.compare_digest(expected, stored):
            return AuditCheck(n, legacy, seq, head, f"entry {seq} was changed, inserted or rewritten "
                              "(its hash does not follow from its content and the entry before)", key is not None)
        prev = head = stored
    used = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    if used is not None and last_seq is not None and used[0] > last_seq:
        return AuditCheck(n, legacy, last_seq, head, f"entries {last_seq + 1} to {used[0]} were removed from the end",
                          key is not None)
    return AuditCheck(n, legacy, last_seq, head, None, key is not None)

_COLUMNS = ("id, asset, command, value, reason, requested_by, requested_at, expires_at, state, decided_by, "
            "decided_at, comment, executed_at, result, status, latency_ms")


class CommandBook:
    """Used from the event loop only."""

    def __init__(self, db: TwinDatabase, audit_key: bytes | None = None) -> None:
        self.db, self.audit_key = db, audit_key
        db.script(SCHEMA)
        if "hash" not in {r[1] for r in db.execute("PRAGMA table_info(audit_log)")}:
            db.execute("ALTER TABLE audit_log ADD COLUMN hash TEXT")  # older files: the chain starts now

    def audit_head(self) -> tuple[int | None, str | None]:
        row = self.db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (None, None)

    def record(self, who: str, action: str, asset: str | None, what: str, value: Any, comment: str | None,
               result: Any = None, now: float | None = None) -> None:
        """An audited action that is not a command request (e.g. retraining a model)."""
        with self.db.transaction() as conn:
            self._audit(conn, time.time() if now is None else now, who, action, None, asset, what, value, comment,
                        result)

    # --- requests -----------------------------------------------------------------------------------
    def request(self, asset: str, command: str, value: Any, reason: str, who: str, now: float,
                ttl_s: float) -> int:
        with self.db.transaction() as conn:
            cur = conn.execute("INSERT INTO command_requests (asset, command, value, reason, requested_by, "
                               "requested_at, expires_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (asset, command, _dumps(value), reason, who, now, now + ttl_s, PENDING))
            command_id = int(cur.lastrowid or 0)
            self._audit(conn, now, who, "requested", command_id, asset, command, value, reason, None)
        return command_id

    def decide(self, command_id: int, approve: bool, who: str, comment: str, now: float) -> bool:
        """Pending -> approved or rejected; False when it was no longer pending (someone else was first)."""
        state = APPROVED if approve else REJECTED
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE command_requests SET state = ?, decided_by = ?, decided_at = ?, comment = ? "
                               "WHERE id = ? AND state = ?", (state, who, now, comment, command_id, PENDING))
            if cur.rowcount != 1:
                return False
            c = self._stored(conn, command_id)
            self._audit(conn, now, who, state, command_id, c["asset"], c["command"], c["value"], comment, None)
        return True

    def refused(self, command_id: int, who: str, why: str, now: float) -> None:
        """An attempt the rules turned away (approving one's own request): kept, like everything else."""
        c = self.get(command_id)
        if c is not None:
            with self.db.transaction() as conn:
                self._audit(conn, now, who, "refused", command_id, c["asset"], c["command"], c["value"], why, None)

    def executed(self, command_id: int, ok: bool, result: Any, status: str, who: str, now: float,
                 latency_ms: float) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE command_requests SET state = ?, executed_at = ?, result = ?, status = ?, "
                         "latency_ms = ? WHERE id = ? AND state = ?",
                         (EXECUTED if ok else FAILED, now, _dumps(result), status, latency_ms, command_id, APPROVED))
            c = self._stored(conn, command_id)
            self._audit(conn, now, who, "executed" if ok else "failed", command_id, c["asset"], c["command"],
                        c["value"], None, {"status": status, "result": result})

    def expire_due(self, now: float) -> int:
        with self.db.transaction() as conn:
            due = conn.execute("SELECT id FROM command_requests WHERE state = ? AND expires_at <= ?",
                               (PENDING, now)).fetchall()
            for (command_id,) in due:
                conn.execute("UPDATE command_requests SET state = ?, decided_at = ? WHERE id = ?",
                             (EXPIRED, now, command_id))
                c = self._stored(conn, command_id)
                self._audit(conn, now, SYSTEM, EXPIRED, command_id, c["asset"], c["command"], c["value"],
                            "not approved in time", None)
        return len(due)

    def interrupted(self, now: float) -> int:
        """After a restart: approved but never recorded as executed. Not retried (the plant has moved on)."""
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT id FROM command_requests WHERE state = ?", (APPROVED,)).fetchall()
            for (command_id,) in rows:
                detail = "the service stopped between approval and the result: outcome unknown, not retried"
                conn.execute("UPDATE command_requests SET state = ?, result = ?, status = ? WHERE id = ?",
                             (FAILED, _dumps(detail), "Interrupted", command_id))
                c = self._stored(conn, command_id)
                self._audit(conn, now, SYSTEM, "failed", command_id, c["asset"], c["command"], c["value"], None,
                            {"status": "Interrupted", "result": detail})
        return len(rows)

    def get(self, command_id: int) -> dict[str, Any] | None:
        return self._row(self.db.conn, command_id)

    def list(self, *, state: str | None = None, asset: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql, args = f"SELECT {_COLUMNS} FROM command_requests WHERE 1=1", list[Any]()
        if state:
            sql, args = sql + " AND state = ?", [*args, state]
        if asset:
            sql, args = sql + " AND asset = ?", [*args, asset]
        rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [_command(r) for r in rows]

    # --- audit ----------------------------------------------------------------------------------------
    def audit(self, *, command_id: int | None = None, who: str | None = None, limit: int = 500,
              before: int | None = None) -> builtins.list[dict[str, Any]]:
        sql, args = "SELECT seq, ts, who, action, command_id, asset, command, value, comment, result " \
                    "FROM audit_log WHERE 1=1", list[Any]()
        for column, v in (("command_id", command_id), ("who", who)):
            if v is not None:
                sql, args = sql + f" AND {column} = ?", [*args, v]
        if before is not None:
            sql, args = sql + " AND seq < ?", [*args, before]
        rows = self.db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [{"seq": r[0], "ts": _iso(r[1]), "who": r[2], "action": r[3], "command_id": r[4], "asset": r[5],
                 "command": r[6], "value": _loads(r[7]), "comment": r[8], "result": _loads(r[9])} for r in rows]

    def _audit(self, conn: Any, now: float, who: str, action: str, command_id: int | None, asset: str | None,
               command: str, value: Any, comment: str | None, result: Any) -> None:
        """Append one entry, chained to the last (inside the caller's write transaction)."""
        last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        used = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
        seq = max(last[0] if last else 0, used[0] if used else 0) + 1
        row = (seq, float(now), who, action, command_id, asset, command, _dumps(value), comment,
               _dumps(result) if result is not None else None)
        conn.execute(f"INSERT INTO audit_log ({_AUDIT_COLUMNS}, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (*row, entry_hash((last[1] or "") if last else "", row, self.audit_key)))

    @staticmethod
    def _row(conn: Any, command_id: int) -> dict[str, Any] | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM command_requests WHERE id = ?", (command_id,)).fetchone()
        return _command(row) if row else None

    @classmethod
    def _stored(cls, conn: Any, command_id: int) -> dict[str, Any]:
        """A request this transaction has just written (so it is there)."""
        c = cls._row(conn, command_id)
        assert c is not None, command_id
        return c


def _command(r: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": r[0], "asset": r[1], "command": r[2], "value": _loads(r[3]), "reason": r[4], "requested_by": r[5],
            "requested_at": _iso(r[6]), "expires_at": _iso(r[7]), "state": r[8], "decided_by": r[9],
            "decided_at": _iso(r[10]), "comment": r[11], "executed_at": _iso(r[12]), "result": _loads(r[13]),
            "status": r[14], "latency_ms": r[15]}


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits (orjson refuses them)
        return json.dumps(value)


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # written by json.dumps for integers beyond 64 bits
        return json.loads(text)


def _iso(t: float | None) -> str | None:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat() if t is not None else None
