"""What the line is achieving: OEE, stops and their reasons, SPC, and the alerts these raise.

Fed from the same record stream as the live state (on the event loop, one writer), live and as history
replayed after a restart or a reconnection (twin/backfill.py); nothing here does I/O.
"""

from __future__ import annotations

import logging
from datetime import UTC, tzinfo

from analytics.oee import ShiftCalendar
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.telemetry import Event, EventKind, Record
from twin.alerting import AlertEngine, Clock, Notifier, SystemClock
from twin.anomaly_monitor import AnomalyMonitor
from twin.config import TwinConfig
from twin.db import TwinDatabase
from twin.downtime import StopLog
from twin.oee import OeeMonitor, OeeSettings
from twin.spc import Characteristic, SpcAlert, SpcMonitor

log = logging.getLogger(__name__)


class LinePerformance:
    """`db` keeps the alerts (default: an in-memory database, for analysis without a service)."""

    def __init__(self, config: TwinConfig, plant: PlantConfig, calendar: ShiftCalendarConfig | None,
                 default_tz: tzinfo = UTC, db: TwinDatabase | None = None, clock: Clock | None = None,
                 notifier: Notifier | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        tz: tzinfo = calendar.tz if calendar else default_tz
        self.calendar = ShiftCalendar(calendar, tz) if calendar else None
        o = config.oee
        self.oee = OeeMonitor(plant, self.calendar, tz, OeeSettings(o.minor_stop_s, o.startup_s,
                                                                    o.clamp_performance))
        self.stops = StopLog(o.reasons, o.minor_stop_s)
        self.alerts = AlertEngine(config.alerts, plant, db or TwinDatabase(":memory:"), self.clock, notifier,
                                  stations=list(self.oee.assets))
        self.alerts.oee_figure, self.alerts.oee_now_us = self._oee_figure, self.now_us
        self.anomaly = AnomalyMonitor(config.anomaly, plant, self.alerts.anomaly, self.alerts.sensor,
                                      self.alerts.covers_sensors)
        self.spc = SpcMonitor([Characteristic(c.asset, c.signal, c.lsl, c.usl, c.target, c.sigma, c.baseline,
                                              ewma_lambda=c.ewma_lambda, ewma_width=c.ewma_width)
                               for c in config.spc], self._spc_alert)

    def observe(self, record: Record) -> None:
        if isinstance(record, Event):
            if record.kind in (EventKind.STATE_CHANGE, EventKind.PART):
                self.oee.observe(record)
            self.stops.observe(record)
        else:
            self.stops.observe(record)
            self.spc.observe(record)
            self.anomaly.observe(record)
        self.alerts.observe(record)

    def _spc_alert(self, a: SpcAlert) -> None:
        self.alerts.spc_violation(a.asset, a.signal, a.rule, a.description, a.value, a.ts)

    def _oee_figure(self, path: str) -> tuple[str, float, float] | None:
        """The current shift's OEE of a station or line, and how much planned time with a known state it has."""
        now = self.now_us()
        if path in self.oee.assets:
            w = self.oee.current(path, "shift", now)
            if w is None or w.kpis.oee is None:
                return None
            return w.key, w.kpis.oee, (w.time.pbt - w.time.unknown) / 1e6
        if path in self.oee.lines:
            lo = self.oee.line(path, "shift", now)
            if lo.oee is None:
                return None
            return self.oee.series["shift"].window_at(now - 1).key, lo.oee, lo.planned_busy_time_s
        return None

    def now_us(self) -> int:
        """Plant time: the end of every running window."""
        return self.clock.now_us()
