"""Alerts with an ISA-18.2-style lifecycle: rules, the state model, persistence, notifications, floods."""

from twin.alerting.clock import Clock, ManualClock, SystemClock
from twin.alerting.config import AlertsConfig, Severity
from twin.alerting.engine import AlertEngine, NotFound
from twin.alerting.lifecycle import Alert, InvalidTransition, State
from twin.alerting.notify import Notifier

__all__ = ["Alert", "AlertEngine", "AlertsConfig", "Clock", "InvalidTransition", "ManualClock", "NotFound",
           "Notifier", "Severity", "State", "SystemClock"]
