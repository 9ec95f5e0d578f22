"""The live twin's own pipeline in plant time, as fast as the machine can go.

The objects the services run, without the sockets between them: the simulator's line model (simulators.live_line),
what its OPC-UA server and AGV fleet put on the wire (an OPC-UA variable is written only when its value
changes), the edge agent's event derivation (edge_agent.derive), the unified namespace's encoding
(plantmodel.uns) and the twin (twin.state, twin.performance: OEE, stops, SPC, anomaly detection, alerts,
floods) on a plant clock that follows the data, the alert engine ticking every `tick_s` of plant time as the
service does. This is what the demo computes at speed 1 (plant time is then wall time), without the wait.
Used by `bench alarms` and by the test that the demo's numbers do not depend on its speed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

from edge_agent.derive import EventDeriver, Roles
from plantmodel import mqtt, uns
from plantmodel.clock import ManualClock
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.telemetry import Record, Sample, from_micros
from simulators.live_line import LineModel
from twin.alerting import Notifier
from twin.config import TwinConfig
from twin.db import TwinDatabase
from twin.performance import LinePerformance
from twin.state import PlantTwin, Rejected


class SimulatedTwin:
    """One run: the plant model's lines from `origin_us` on, seeded by `seed` (default: each line's own)."""

    def __init__(self, plant: PlantConfig, config: TwinConfig, calendar: ShiftCalendarConfig | None, *,
                 origin_us: int, seed: int | None = None, tick_s: float | None = None,
                 through_uns: bool = True) -> None:
        self.origin_us, self.through_uns = origin_us, through_uns
        self.tick_s = config.alerts.tick_s if tick_s is None else tick_s
        self.clock = ManualClock(from_micros(origin_us))
        config = config.model_copy(update={"anomaly": config.anomaly.model_copy(update={"model_dir": None}),
                                           "history": None})
        notifier = Notifier([], config.alerts.retry, config.alerts.queue, mqtt.BrokerConfig(), "simulated-twin")
        zone: tzinfo = ZoneInfo(plant.sites[0].timezone) if plant.sites else UTC
        self.performance = LinePerformance(config, plant, calendar, zone, TwinDatabase(":memory:"), self.clock,
                                           notifier)
        self.twin = PlantTwin(plant, listeners=[self.performance.observe], clock=self.clock,
                              max_future_s=config.max_future_s)
        self.deriver = EventDeriver(Roles.of(plant))
        assets = [a for line in plant.lines() for a in line.assets()]
        self._reported_by_change = {a.path for a in assets if a.config.sim.interface == "opcua"}
        self._last: dict[tuple[str, str], object] = {}
        self.models = [LineModel(line, seed, start_us=origin_us) for line in plant.lines()]
        self.t_s = 0.0
        self.on_wire = 0
        self.rejected: list[tuple[Record, str]] = []
        self.listeners: list[Callable[[Sample], None]] = []  # told of every sample put on the wire
        for model in self.models:
            self._feed(model.snapshot())

    def _feed(self, samples: list[Sample]) -> None:
        for s in samples:
            if s.asset in self._reported_by_change:  # OPC-UA reports by exception
                key = (s.asset, s.signal)
                if self._last.get(key) == s.value:
                    continue
                self._last[key] = s.value
            self.on_wire += 1
            for listener in self.listeners:
                listener(s)
            records: list[Record] = [s, *self.deriver.observe(s)]
            for record in records:
                self._apply(record)

    def _apply(self, record: Record) -> None:
        if self.through_uns:
            record = uns.decode(*uns.encode(record))
        if record.ts > self.clock.now():
            self.clock.set(record.ts)
        try:
            self.twin.apply(record)
        except Rejected as exc:
            self.rejected.append((record, f"{exc.field}: {exc.detail}"))

    def run_until(self, t_s: float) -> None:
        """Simulate up to `t_s` plant seconds after the origin, ticking the alert engine as the service does."""
        while self.t_s < t_s:
            self.t_s = min(self.t_s + self.tick_s, t_s)
            for model in self.models:
                model.run_until(self.t_s)
                self._feed(model.drain())
            self.clock.set(from_micros(self.origin_us + round(self.t_s * 1_000_000)))
            self.performance.alerts.tick()

    def now_us(self) -> int:
        return self.origin_us + round(self.t_s * 1_000_000)

