"""The ISA-18.2 alarm state model: what an alert is, and which actions each state allows.

An alert's state follows from three facts: is its condition still present, has someone acknowledged it, is it
shelved (and whether it is closed, which ends it)::

    condition present, unacknowledged  -> active            (ack -> acknowledged; condition ends -> cleared_unacked)
    condition present, acknowledged    -> acknowledged      (condition ends -> cleared)
    condition gone, unacknowledged     -> cleared_unacked   (return to normal unacknowledged: ack -> closed)
    condition gone, acknowledged       -> cleared           (close -> closed)
    shelved (any of the above)         -> shelved           (unshelve, or its time runs out)

The condition coming back before the alert is closed makes it active (unacknowledged) again: one more
occurrence of the same alert, not a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from twin.alerting.config import Severity


class State(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED_UNACKED = "cleared_unacked"
    CLEARED = "cleared"
    SHELVED = "shelved"
    CLOSED = "closed"


OPEN_STATES = frozenset(State) - {State.CLOSED}


class InvalidTransition(ValueError):
    """An action the alert's state does not allow; the message says why and what would."""


@dataclass(frozen=True, slots=True)
class Transition:
    alert_id: int
    at: datetime
    action: str
    from_state: State | None
    to_state: State
    who: str
    comment: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "action": self.action, "from": self.from_state, "to": self.to_state,
                "who": self.who, "comment": self.comment}


@dataclass(slots=True)
class Alert:
    id: int
    rule: str
    kind: str  # the rule's type: threshold, anomaly, rul, machine_alarm, oee, spc
    asset: str
    severity: Severity
    priority: str | None
    message: str
    raised_at: datetime  # source time of the first occurrence
    last_at: datetime  # source time of the latest occurrence or update
    active_since: datetime  # clock time it last became active unacknowledged (escalation counts from here)
    condition: bool = True
    acked: bool = False
    closed: bool = False
    occurrences: int = 1
    shelved_until: datetime | None = None
    cleared_at: datetime | None = None
    escalation: int = 0  # escalation steps taken since it last became active
    value: float | str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    @property
    def state(self) -> State:
        if self.closed:
            return State.CLOSED
        if self.shelved_until is not None:
            return State.SHELVED
        if self.condition:
            return State.ACKNOWLEDGED if self.acked else State.ACTIVE
        return State.CLEARED if self.acked else State.CLEARED_UNACKED

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "kind": self.kind, "asset": self.asset,
                "severity": self.severity.name, "priority": self.priority, "state": self.state,
                "message": self.message, "condition": self.condition, "acknowledged": self.acked,
                "occurrences": self.occurrences, "raised_at": self.raised_at, "last_at": self.last_at,
                "cleared_at": self.cleared_at, "shelved_until": self.shelved_until, "escalation": self.escalation,
                "value": self.value, "detail": self.detail, "updated_at": self.updated_at}


def check(alert: Alert, action: str) -> None:
    """Raise `InvalidTransition` unless a person may take `action` on the alert now."""
    s = alert.state
    ok = {"ack": s in (State.ACTIVE, State.CLEARED_UNACKED),
          "clear": s in (State.ACTIVE, State.ACKNOWLEDGED),
          "close": s is State.CLEARED,
          "shelve": s in (State.ACTIVE, State.ACKNOWLEDGED, State.CLEARED_UNACKED, State.CLEARED),
          "unshelve": s is State.SHELVED}
    if action not in ok:
        raise InvalidTransition(f"unknown action {action!r}")
    if ok[action]:
        return
    why = {State.CLOSED: "it is closed",
           State.SHELVED: f"it is shelved until {alert.shelved_until:%Y-%m-%d %H:%M:%S} UTC; unshelve it first"
           if alert.shelved_until else "it is shelved",
           State.ACKNOWLEDGED: "it is already acknowledged",
           State.CLEARED: "it is cleared and acknowledged; it can only be closed (or shelved)",
           State.ACTIVE: "its condition is still present and it is unacknowledged",
           State.CLEARED_UNACKED: "it is cleared but unacknowledged; acknowledge it (which closes it)"}[s]
    hint = {"close": " (close needs state cleared: acknowledged, condition gone)",
            "unshelve": " (it is not shelved)", "ack": "", "clear": " (clear needs its condition present)",
            "shelve": ""}[action]
    raise InvalidTransition(f"cannot {action} alert {alert.id} in state {s}: {why}{hint}")
