"""Alerts raised by the twin's analytics: one open alert per asset and cause, counted while it lasts.

A condition alert (an anomaly score over its threshold) stays open while the condition holds and is cleared
when it ends; an event alert (an SPC rule violation) is raised once per occurrence. The lifecycle with
acknowledgement, shelving and notifications builds on this log.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from itertools import count
from typing import Any


class AlertLog:
    def __init__(self, keep: int = 1000) -> None:
        self.alerts: deque[dict[str, Any]] = deque(maxlen=keep)
        self._open: dict[tuple[str, str], dict[str, Any]] = {}
        self._ids = count(1)

    def event(self, kind: str, asset: str, cause: str, ts: datetime, message: str, severity: str = "warning",
              **detail: Any) -> dict[str, Any]:
        alert = {"id": next(self._ids), "kind": kind, "asset": asset, "cause": cause, "severity": severity,
                 "state": "active", "message": message, "ts": ts, "raised_at": ts, "cleared_at": None,
                 "occurrences": 1} | detail
        self.alerts.append(alert)
        return alert

    def condition(self, kind: str, asset: str, cause: str, ts: datetime, message: str, severity: str = "warning",
                  **detail: Any) -> dict[str, Any]:
        """Raise, or update the open alert of this asset and cause (no duplicate while it is open)."""
        key = (asset, cause)
        alert = self._open.get(key)
        if alert is None:
            alert = self._open[key] = self.event(kind, asset, cause, ts, message, severity, **detail)
        else:
            alert.update(detail, message=message, ts=ts, occurrences=alert["occurrences"] + 1)
            if _rank(severity) > _rank(alert["severity"]):
                alert["severity"] = severity
        return alert

    def clear(self, asset: str, cause: str, ts: datetime) -> dict[str, Any] | None:
        alert = self._open.pop((asset, cause), None)
        if alert is not None:
            alert.update(state="cleared", cleared_at=ts)
        return alert

    def is_open(self, asset: str, cause: str) -> bool:
        return (asset, cause) in self._open


def _rank(severity: str) -> int:
    return {"info": 0, "warning": 1, "critical": 2}.get(severity, 1)
