"""What the line is achieving: OEE, stops and their reasons, SPC, and the alerts these raise.

Fed from the same record stream as the live state (on the event loop, one writer); nothing here does I/O
except `rebuild`, which reads the historian once at start-up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo

from analytics.oee import ShiftCalendar
from historian.base import Historian
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.telemetry import Event, EventKind, Record, from_micros, to_micros
from twin.alerts import AlertLog
from twin.anomaly import AnomalyMonitor
from twin.config import TwinConfig
from twin.downtime import StopLog
from twin.oee import DAY_US, OeeMonitor, OeeSettings
from twin.spc import Characteristic, SpcAlert, SpcMonitor

log = logging.getLogger(__name__)


class LinePerformance:
    def __init__(self, config: TwinConfig, plant: PlantConfig, calendar: ShiftCalendarConfig | None,
                 default_tz: tzinfo = UTC) -> None:
        tz: tzinfo = calendar.tz if calendar else default_tz
        self.calendar = ShiftCalendar(calendar, tz) if calendar else None
        o = config.oee
        self.oee = OeeMonitor(plant, self.calendar, tz, OeeSettings(o.minor_stop_s, o.startup_s,
                                                                    o.clamp_performance))
        self.stops = StopLog(o.reasons, o.minor_stop_s)
        self.alerts = AlertLog()
        self.anomaly = AnomalyMonitor(config.anomaly, plant, self.alerts)
        self.spc = SpcMonitor([Characteristic(c.asset, c.signal, c.lsl, c.usl, c.target, c.sigma, c.baseline)
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

    def _spc_alert(self, a: SpcAlert) -> None:
        self.alerts.event("spc", a.asset, f"spc:{a.signal}:{a.rule}", a.ts, f"{a.signal}: {a.description}",
                          signal=a.signal, rule=a.rule, value=a.value)

    def rebuild(self, historian: Historian, now: datetime) -> int:
        """Replay today's events (and the day before, for a night shift) from the historian."""
        start = from_micros(to_micros(now) - 2 * DAY_US)
        events = sorted(historian.events(start=start), key=lambda e: e.ts)
        for e in events:
            self.observe(e)
        log.info("rebuilt OEE and stops from %d historian events", len(events))
        return len(events)

    def now_us(self) -> int:
        return self.oee.now_us(to_micros(datetime.now(UTC)))
