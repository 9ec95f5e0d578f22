"""The alert engine: conditions from the rules become alerts with an ISA-18.2 lifecycle, kept in the database.

One open alert per rule and asset: a repeat while it is open counts an occurrence. Every transition is
recorded with who, when (the engine's clock) and a comment. Runs on the event loop (the twin's single writer);
notifications leave through the notifier's queues and never hold it up. `listeners` are told of every change
(a WebSocket pushes them); `metrics()` gives the counts for Prometheus.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Record, Sample
from twin.alerting.clock import Clock, SystemClock
from twin.alerting.config import AlertsConfig, EscalationStep, Severity, max_severity
from twin.alerting.flood import FloodGate
from twin.alerting.lifecycle import Alert, InvalidTransition, State, Transition, check
from twin.alerting.notify import Notification, Notifier
from twin.alerting.rules import (
    AnomalyWatch,
    Condition,
    MachineAlarmWatch,
    OeeWatch,
    RulWatch,
    SensorWatch,
    SpcWatch,
    ThresholdWatch,
)
from twin.alerting.store import AlertStore
from twin.db import TwinDatabase

log = logging.getLogger(__name__)
SYSTEM = "system"
#: (path) -> (window key, OEE, seconds elapsed in the window) of a station or line, or None
OeeFigure = Callable[[str], tuple[str, float, float] | None]


class NotFound(KeyError):
    pass


class AlertEngine:
    def __init__(self, config: AlertsConfig, plant: PlantConfig, db: TwinDatabase, clock: Clock | None = None,
                 notifier: Notifier | None = None, stations: list[str] | None = None) -> None:
        self.config, self.clock = config, clock or SystemClock()
        self.store = AlertStore(db)
        self.notifier = notifier
        if notifier is not None:
            notifier.outcome = self._delivered
        self.flood = FloodGate(config.flood)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.rules = {r.id: r for r in config.rules}
        assets = list(plant.assets())
        self.names = {a.path: a.config.name or a.id for a in assets} | {ln.path: ln.path.rsplit("/", 1)[-1]
                                                                        for ln in plant.lines()}
        self.thresholds = [ThresholdWatch(r, assets) for r in config.rules if r.type == "threshold"]
        self.machine_alarms = [MachineAlarmWatch(r, assets) for r in config.rules if r.type == "machine_alarm"]
        self.ruls = [RulWatch(r, assets) for r in config.rules if r.type == "rul"]
        self.spcs = [SpcWatch(r) for r in config.rules if r.type == "spc"]
        self.anomalies = [AnomalyWatch(r) for r in config.rules if r.type == "anomaly"]
        self.sensors = [SensorWatch(r) for r in config.rules if r.type == "sensor"]
        self.oees = [OeeWatch(r, plant, stations or []) for r in config.rules if r.type == "oee"]
        self.oee_figure: OeeFigure | None = None
        self.oee_now_us: Callable[[], int] | None = None
        self._sample_watches: list[ThresholdWatch | RulWatch] = [*self.thresholds, *self.ruls]
        self.open: dict[tuple[str, str], Alert] = {}
        self.by_id: dict[int, Alert] = {}
        for a in self.store.open_alerts():  # a restart carries on where it stopped
            self.open[(a.rule, a.asset)] = self.by_id[a.id] = a
        self._next_id = self.store.next_id()
        self.raised: Counter[str] = Counter()  # severity -> alerts raised since start
        self.transitions_total: Counter[str] = Counter()
        self.samples = 0
        self.muted = False  # conditions are worked out (timers run) but change no alert
        if self.open:
            log.info("recovered %d open alerts", len(self.open))

    # ---- conditions from the data --------------------------------------------------------------------------

    def is_active(self, rule: str, asset: str) -> bool:
        a = self.open.get((rule, asset))
        return a is not None and a.condition

    def observe(self, record: Record) -> None:
        """Every record the twin accepts: threshold, RUL and machine-alarm rules."""
        self.samples += 1
        if isinstance(record, Sample):
            for w in self._sample_watches:
                if (c := w.observe(record, self.is_active)) is not None:
                    self.apply(c)
        for m in self.machine_alarms:
            if (c := m.observe(record, self.is_active)) is not None:
                self.apply(c)

    def spc_violation(self, asset: str, signal: str, spc_rule: str, description: str, value: float,
                      ts: datetime) -> None:
        for w in self.spcs:
            if (c := w.violation(asset, signal, spc_rule, description, value, ts)) is not None:
                self.apply(c)

    def anomaly(self, asset: str, ts: datetime, present: bool, score: float | None, threshold: float | None,
                signals: list[str], parts: dict[str, float] | None = None) -> None:
        for w in self.anomalies:
            if (c := w.score(asset, ts, present, score, threshold, signals, self.is_active, parts)) is not None:
                self.apply(c)

    def covers_sensors(self, asset: str) -> bool:
        """Whether a sensor rule watches the asset's sensors (otherwise a faulty one raises its anomaly alert)."""
        return any(w.covers(asset) for w in self.sensors)

    def sensor(self, asset: str, signal: str, ts: datetime, present: bool, fault: str, value: float | None) -> None:
        for w in self.sensors:
            if (c := w.report(asset, signal, ts, present, fault, value, self.is_active)) is not None:
                self.apply(c)

    def apply(self, c: Condition) -> Alert | None:
        """A condition becomes a raise, an occurrence, a fresh value or a clear. Ignored while `muted` (history
        replayed only to warm the rules up), and when its alert has seen this instant or a later one already:
        the same data replayed after a restart or a reconnection changes nothing."""
        rule = self.rules[c.rule]
        key = (c.rule, c.asset)
        a = self.open.get(key)
        if self.muted or (a is not None and _seen(c, a)):
            return a
        now = self.clock.now()
        if not c.present:
            if a is None or not a.condition:
                return a
            before = a.state
            a.condition, a.cleared_at, a.last_at = False, c.ts, max(a.last_at, c.ts)
            if c.value is not None:
                a.value = _finite(c.value)
            self._changed(a, "clear", before, f"rule:{rule.id}", "condition returned to normal", now)
            self._annunciate("cleared", a, now, counted=False)
            return a
        severity = c.severity if c.severity is not None else Severity[rule.severity]
        message = self._message(rule.id, c, severity)
        detail = {k: _finite(v) for k, v in c.fields.items() if k not in ("asset", "asset_name")}
        if a is None:
            a = Alert(id=self._next_id, rule=rule.id, kind=rule.type, asset=c.asset, severity=severity,
                      priority=rule.priority, message=message, raised_at=c.ts, last_at=c.ts, active_since=now,
                      condition=not c.event, value=_finite(c.value), detail=detail)
            self._next_id += 1
            self.open[key] = self.by_id[a.id] = a
            self.raised[severity.name] += 1
            self._changed(a, "raise", None, f"rule:{rule.id}", message, now)
            self._annunciate("raised", a, now)
            return a
        before = a.state
        a.message, a.value, a.detail, a.last_at = message, _finite(c.value), detail, max(a.last_at, c.ts)
        a.severity = max(a.severity, severity)
        if c.event and not a.acked:  # one more occurrence of an alert nobody has seen yet
            a.occurrences += 1
            self._changed(a, None, before, f"rule:{rule.id}", None, now)
        elif c.event or not a.condition:  # back after it was acknowledged or cleared: annunciated again
            a.occurrences += 1
            a.acked, a.active_since, a.escalation = False, now, 0
            if not c.event:
                a.condition, a.cleared_at = True, None
            self._changed(a, "reactivate", before, f"rule:{rule.id}", message, now)
            self._annunciate("reactivated", a, now)
        else:
            self._changed(a, None, before, f"rule:{rule.id}", None, now, tell=False)  # a fresh value only
        return a

    def _message(self, rule: str, c: Condition, severity: Severity) -> str:
        fields = {"asset": c.asset, "asset_name": self.names.get(c.asset, c.asset), "rule": rule,
                  "severity": severity.name} | {k: (math.nan if v is None else v) for k, v in c.fields.items()}
        try:
            return self.rules[rule].message.format_map(fields)
        except (ValueError, KeyError, TypeError, IndexError) as exc:  # a format spec that does not fit the value
            return f"{fields['asset_name']}: {rule} ({exc})"

    # ---- what people do ------------------------------------------------------------------------------------

    def act(self, alert_id: int, action: str, who: str, comment: str | None = None,
            duration_s: float | None = None) -> Alert:
        """ack | shelve | unshelve | clear | close. NotFound, InvalidTransition (409) or ValueError (422)."""
        a = self.by_id.get(alert_id)
        if a is None:
            if self.store.get(alert_id) is None:
                raise NotFound(alert_id)
            raise InvalidTransition(f"cannot {action} alert {alert_id}: it is closed")
        check(a, action)
        now, before = self.clock.now(), a.state
        if action == "ack":
            a.acked = True
            a.closed = not a.condition
        elif action == "clear":
            a.condition, a.acked, a.cleared_at = False, True, now
        elif action == "close":
            a.closed = True
        elif action == "shelve":
            if duration_s is None or not 0 < duration_s <= self.config.max_shelve_s:
                raise ValueError(f"duration_s: give the shelving time in seconds, more than 0 and at most "
                                 f"{self.config.max_shelve_s:g} (alerts.max_shelve_s)")
            a.shelved_until = now + timedelta(seconds=duration_s)
            comment = comment or None
        elif action == "unshelve":
            self._unshelve(a, now)
        self._changed(a, action, before, who, comment, now)
        return a

    def _unshelve(self, a: Alert, now: datetime) -> None:
        a.shelved_until = None
        if not a.acked:
            a.active_since = now  # escalation counts from when people can see it again

    # ---- time passing --------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Shelves that run out, escalations that fall due, auto-close, OEE targets, the end of a flood."""
        now = self.clock.now()
        for a in list(self.by_id.values()):
            if a.shelved_until is not None and a.shelved_until <= now:
                before = a.state
                self._unshelve(a, now)
                self._changed(a, "unshelve", before, SYSTEM, "shelving time ran out", now)
            if (a.state in (State.ACTIVE, State.CLEARED_UNACKED) and self.rules.get(a.rule) is not None
                    and self.rules[a.rule].escalate):
                while a.escalation < len(self.config.escalation):
                    step = self.config.escalation[a.escalation]
                    if (now - a.active_since).total_seconds() < step.after_s:
                        break
                    self._escalate(a, step, now)
            if (self.config.auto_close_s is not None and a.state is State.CLEARED and a.updated_at is not None
                    and (now - a.updated_at).total_seconds() >= self.config.auto_close_s):
                a.closed = True
                self._changed(a, "close", State.CLEARED, SYSTEM, "closed automatically", now)
        if self.oee_figure is not None and self.oees:
            now_us = self.oee_now_us() if self.oee_now_us is not None else 0
            for w in self.oees:
                for c in w.judge(self.oee_figure, self.is_active, now_us):
                    self.apply(c)
        summary = self.flood.ended(now)
        if summary is not None:
            self._submit(Notification("flood_ended", now, Severity.warning, summary=summary))

    def _escalate(self, a: Alert, step: EscalationStep, now: datetime) -> None:
        before = a.state
        a.escalation += 1
        old = a.severity
        rule = self.rules.get(a.rule)
        if step.severity is not None:
            cap = max_severity(rule) if rule is not None else Severity[step.severity]
            a.severity = max(a.severity, min(Severity[step.severity], cap))
        waited = (now - a.active_since).total_seconds()
        note = f"unacknowledged for {waited:.0f} s (step {a.escalation})" + (
            f": severity {old.name} -> {a.severity.name}" if a.severity != old else "")
        self._changed(a, "escalate", before, SYSTEM, note, now)
        n = Notification("escalated", now, a.severity, alert=a.as_dict(), only=tuple(step.notify), escalation=True)
        self._gate(n, a, now)

    # ---- bookkeeping ---------------------------------------------------------------------------------------

    def _changed(self, a: Alert, action: str | None, before: State | None, who: str, comment: str | None,
                 now: datetime, tell: bool = True) -> None:
        a.updated_at = now
        t = None
        if action is not None:
            t = Transition(a.id, now, action, before, a.state, who, comment)
            self.transitions_total[action] += 1
        self.store.save(a, t)
        if a.closed:
            self.open.pop((a.rule, a.asset), None)
            self.by_id.pop(a.id, None)
        if tell:
            d = a.as_dict()
            for listener in self.listeners:
                try:
                    listener(d)
                except Exception:  # a listener's failure must not stop the alert path
                    log.exception("alert listener %r failed", listener)

    def _annunciate(self, event: str, a: Alert, now: datetime, counted: bool = True) -> None:
        if a.state is State.SHELVED or self.notifier is None:
            return
        n = Notification(event, now, a.severity, alert=a.as_dict())
        if not counted:
            if not self.flood.flooding:
                self._submit(n)
            return
        self._gate(n, a, now)

    def _gate(self, n: Notification, a: Alert, now: datetime) -> None:
        send, began = self.flood.admit(a.severity, a.asset, now)
        if began:
            self._submit(Notification("flood_started", now, Severity.warning, summary=self.flood.status(now)))
        if send:
            self._submit(n)

    def _submit(self, n: Notification) -> None:
        if self.notifier is not None:
            self.notifier.submit(n)

    def _delivered(self, n: Notification, target: str, ok: bool, attempts: int, error: str | None) -> None:
        alert_id = n.alert.get("id") if n.alert else None
        self.store.notified(alert_id, target, n.event, self.clock.now(), ok, attempts, error)

    # ---- reading -------------------------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert | None:
        return self.by_id.get(alert_id) or self.store.get(alert_id)

    def summary(self) -> dict[str, Any]:
        now = self.clock.now()
        counts = self.store.counts()
        return {"at": now, **counts, "open": sum(v for k, v in counts["by_state"].items() if k != "closed"),
                "unacknowledged": sum(1 for a in self.by_id.values() if not a.acked),
                "flood": self.flood.status(now),
                "notifications": self.notifier.status() if self.notifier is not None else []}

    def metrics(self) -> dict[str, Any]:
        """Counts for Prometheus: raised by severity (counter), open by state and severity (gauges), notifications."""
        open_by = Counter(str(a.state) for a in self.by_id.values())
        sev_by = Counter(a.severity.name for a in self.by_id.values())
        n = self.notifier
        return {"raised_total": {s.name: self.raised[s.name] for s in Severity},
                "transitions_total": dict(self.transitions_total),
                "open": {str(s): open_by[str(s)] for s in State if s is not State.CLOSED},
                "open_by_severity": {s.name: sev_by[s.name] for s in Severity},
                "notifications_sent_total": dict(n.sent) if n else {},
                "notifications_failed_total": dict(n.failed) if n else {},
                "notifications_dropped_total": dict(n.dropped) if n else {},
                "notifications_suppressed_total": self.flood.suppressed_total, "flooding": self.flood.flooding}


def _seen(c: Condition, a: Alert) -> bool:
    """The alert has this condition already: an older instant, or this one (for a one-off occurrence, the same
    one: two SPC rules broken by one measurement are two occurrences)."""
    if c.ts != a.last_at:
        return c.ts < a.last_at
    return not c.event or a.detail == {k: _finite(v) for k, v in c.fields.items() if k not in ("asset", "asset_name")}


def _finite(v: Any) -> Any:
    """JSON has no infinity (an RUL with no crossing in sight) nor NaN: such a number is null."""
    return None if isinstance(v, float) and not math.isfinite(v) else v
