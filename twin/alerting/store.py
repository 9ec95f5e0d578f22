"""Alerts, their transitions and notification outcomes in the twin's database, so a restart forgets nothing.

Times are stored as microseconds since the epoch (UTC), which sort and compare as integers. A partial unique
index keeps at most one open (not closed) alert per rule and asset, the deduplication rule, in the data too.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from plantmodel.telemetry import from_micros, to_micros
from twin.alerting.config import Severity
from twin.alerting.lifecycle import Alert, State, Transition
from twin.db import TwinDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_alerts (
    id INTEGER PRIMARY KEY, rule TEXT NOT NULL, kind TEXT NOT NULL, asset TEXT NOT NULL,
    severity INTEGER NOT NULL, priority TEXT, message TEXT NOT NULL, state TEXT NOT NULL,
    raised_at INTEGER NOT NULL, last_at INTEGER NOT NULL, active_since INTEGER NOT NULL,
    condition INTEGER NOT NULL, acked INTEGER NOT NULL, closed INTEGER NOT NULL, occurrences INTEGER NOT NULL,
    shelved_until INTEGER, cleared_at INTEGER, escalation INTEGER NOT NULL, value TEXT, detail TEXT NOT NULL,
    updated_at INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS alert_alerts_open ON alert_alerts (rule, asset) WHERE closed = 0;
CREATE INDEX IF NOT EXISTS alert_alerts_updated ON alert_alerts (updated_at);
CREATE TABLE IF NOT EXISTS alert_transitions (
    id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL REFERENCES alert_alerts(id), at INTEGER NOT NULL,
    action TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, who TEXT NOT NULL, comment TEXT);
CREATE INDEX IF NOT EXISTS alert_transitions_alert ON alert_transitions (alert_id, id);
CREATE TABLE IF NOT EXISTS alert_notifications (
    id INTEGER PRIMARY KEY, alert_id INTEGER, target TEXT NOT NULL, event TEXT NOT NULL, at INTEGER NOT NULL,
    ok INTEGER NOT NULL, attempts INTEGER NOT NULL, error TEXT);
"""

_COLUMNS = ("id", "rule", "kind", "asset", "severity", "priority", "message", "state", "raised_at", "last_at",
            "active_since", "condition", "acked", "closed", "occurrences", "shelved_until", "cleared_at",
            "escalation", "value", "detail", "updated_at")


def _prefix(path: str) -> str:
    """A LIKE pattern for everything under `path`."""
    return path.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"


def _us(ts: datetime | None) -> int | None:
    return None if ts is None else to_micros(ts)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else from_micros(us)


class AlertStore:
    def __init__(self, db: TwinDatabase) -> None:
        self.db = db
        db.script(SCHEMA)

    def next_id(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM alert_alerts").fetchone()[0])

    def save(self, alert: Alert, transition: Transition | None = None) -> None:
        a = alert
        row = (a.id, a.rule, a.kind, a.asset, int(a.severity), a.priority, a.message, str(a.state),
               _us(a.raised_at), _us(a.last_at), _us(a.active_since), int(a.condition), int(a.acked), int(a.closed),
               a.occurrences, _us(a.shelved_until), _us(a.cleared_at), a.escalation, json.dumps(a.value),
               json.dumps(a.detail, default=str), _us(a.updated_at))
        sql = (f"INSERT OR REPLACE INTO alert_alerts ({', '.join(_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(_COLUMNS))})")
        if transition is None:
            self.db.execute(sql, row)
            return
        t = transition
        with self.db.transaction() as conn:
            conn.execute(sql, row)
            conn.execute("INSERT INTO alert_transitions (alert_id, at, action, from_state, to_state, who, comment) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (t.alert_id, _us(t.at), t.action,
                                                          None if t.from_state is None else str(t.from_state),
                                                          str(t.to_state), t.who, t.comment))

    def open_alerts(self) -> list[Alert]:
        return [self._alert(r) for r in self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM alert_alerts WHERE closed = 0 ORDER BY id")]

    def get(self, alert_id: int) -> Alert | None:
        row = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM alert_alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else self._alert(row)

    def select(self, *, states: list[str] | None = None, asset: str = "", severity: Severity | None = None,
               since: datetime | None = None, limit: int = 100, scope: list[str] | None = None) -> list[Alert]:
        """Newest first; `asset` a path prefix, `since` the last change, `severity` a minimum, `scope` the
        path prefixes a caller may see (none: all)."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            params += states
        if asset:
            where.append("(asset = ? OR asset LIKE ? ESCAPE '\\')")
            params += [asset, _prefix(asset)]
        if scope:
            where.append("(" + " OR ".join("asset = ? OR asset LIKE ? ESCAPE '\\'" for _ in scope) + ")")
            for s in scope:
                params += [s.rstrip("/"), _prefix(s)]
        if severity is not None:
            where.append("severity >= ?")
            params.append(int(severity))
        if since is not None:
            where.append("updated_at >= ?")
            params.append(to_micros(since))
        sql = (f"SELECT {', '.join(_COLUMNS)} FROM alert_alerts WHERE {' AND '.join(where)} "
               f"ORDER BY updated_at DESC, id DESC LIMIT ?")
        return [self._alert(r) for r in self.db.execute(sql, (*params, limit))]

    def at(self, instant: datetime) -> list[dict[str, Any]]:
        """The alerts open at `instant` (the twin's clock), each with the state it had then: for replay."""
        rows = self.db.execute(
            f"SELECT {', '.join('a.' + c for c in _COLUMNS)}, t.to_state FROM alert_alerts a JOIN alert_transitions t "
            "ON t.id = (SELECT MAX(id) FROM alert_transitions WHERE alert_id = a.id AND at <= ?) "
            "WHERE t.to_state != 'closed' ORDER BY a.id", (to_micros(instant),))
        return [self._alert(r[:-1]).as_dict() | {"state": r[-1]} for r in rows]

    def transitions(self, alert_id: int) -> list[Transition]:
        rows = self.db.execute("SELECT alert_id, at, action, from_state, to_state, who, comment "
                               "FROM alert_transitions WHERE alert_id = ? ORDER BY id", (alert_id,))
        return [Transition(r[0], from_micros(r[1]), r[2], None if r[3] is None else State(r[3]), State(r[4]), r[5],
                           r[6]) for r in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        by_state = dict(self.db.execute("SELECT state, COUNT(*) FROM alert_alerts GROUP BY state").fetchall())
        by_sev = dict(self.db.execute("SELECT severity, COUNT(*) FROM alert_alerts WHERE closed = 0 "
                                      "GROUP BY severity").fetchall())
        return {"by_state": {str(s): by_state.get(str(s), 0) for s in State},
                "open_by_severity": {s.name: by_sev.get(int(s), 0) for s in Severity}}

    def notified(self, alert_id: int | None, target: str, event: str, at: datetime, ok: bool, attempts: int,
                 error: str | None) -> None:
        self.db.execute("INSERT INTO alert_notifications (alert_id, target, event, at, ok, attempts, error) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", (alert_id, target, event, to_micros(at), int(ok), attempts,
                                                         error))

    def notifications(self, limit: int = 100, failed_only: bool = False) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT alert_id, target, event, at, ok, attempts, error FROM alert_notifications "
                               + ("WHERE ok = 0 " if failed_only else "") + "ORDER BY id DESC LIMIT ?", (limit,))
        return [{"alert_id": r[0], "target": r[1], "event": r[2], "at": from_micros(r[3]), "ok": bool(r[4]),
                 "attempts": r[5], "error": r[6]} for r in rows]

    @staticmethod
    def _alert(r: tuple[Any, ...]) -> Alert:
        d = dict(zip(_COLUMNS, r, strict=True))
        return Alert(id=d["id"], rule=d["rule"], kind=d["kind"], asset=d["asset"], severity=Severity(d["severity"]),
                     priority=d["priority"], message=d["message"], raised_at=from_micros(d["raised_at"]),
                     last_at=from_micros(d["last_at"]), active_since=from_micros(d["active_since"]),
                     condition=bool(d["condition"]), acked=bool(d["acked"]), closed=bool(d["closed"]),
                     occurrences=d["occurrences"], shelved_until=_dt(d["shelved_until"]),
                     cleared_at=_dt(d["cleared_at"]), escalation=d["escalation"],
                     value=json.loads(d["value"]) if d["value"] is not None else None,
                     detail=json.loads(d["detail"]), updated_at=_dt(d["updated_at"]))

