"""Events derived from the sample stream: state changes and parts, as OEE needs them.

Machines publish their state and part counters as variables; the event is the change. Which signal of an
asset is its state and which counters count parts comes from the plant model's catalogue when the agent is
given one (``plant:``), else from the namespace's conventions (``state``; ``parts_good``, ``parts_scrap``,
``parts_rework``, ``parts_total``).

Counters are what PLCs make of them:

- the first value seen sets a baseline (parts made before the agent listened are not this agent's to count);
- a counter that wraps (``counter: {rollover: 65535}`` in its mapping) counts across the wrap;
- any other drop is a reset, to zero: the new value is what was made since;
- a *total* counter (PackML's ProdProcessedCount, a machine tool's PartsCompleted) counts every part made;
  the outcome no counter reports is then derived: good = total - scrap - rework, or scrap = total - good -
  rework. Counters that change together arrive together (one server notification, one message) and are
  reconciled per batch; a defect reported later than its part pauses the derived count until the total
  catches up, so the sums are exact once both counters have been read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from plantmodel.plant import PlantConfig
from plantmodel.telemetry import PART_COUNTERS, STATE_SIGNAL, Event, EventKind, Quality, Sample

#: conventions for assets the agent has no plant model entry for
CONVENTION_COUNTERS: Mapping[str, str] = {**PART_COUNTERS, "parts_total": "total"}


@dataclass(slots=True)
class _Parts:
    """One asset's counted parts by outcome, for the outcome its counters leave out (see `_derived`)."""

    counted: dict[str, int] = field(default_factory=lambda: {"good": 0, "scrap": 0, "rework": 0, "total": 0})
    reported: set[str] = field(default_factory=set)  # outcomes the asset has a counter for
    derived_emitted: int = 0


@dataclass
class Roles:
    """Which signals carry state and parts, per asset: from the catalogue, else by convention."""

    state: dict[str, str | None] = field(default_factory=dict)  # asset -> state signal
    counters: dict[str, Mapping[str, str]] = field(default_factory=dict)  # asset -> {signal: outcome}

    @classmethod
    def of(cls, plant: PlantConfig | None) -> Roles:
        roles = cls()
        for asset in plant.assets() if plant else []:
            roles.state[asset.path] = asset.spec.state
            roles.counters[asset.path] = asset.spec.part_counters
        return roles

    def state_signal(self, asset: str) -> str | None:
        return self.state.get(asset, STATE_SIGNAL)

    def outcome(self, asset: str, signal: str) -> str | None:
        return self.counters.get(asset, CONVENTION_COUNTERS).get(signal)


class EventDeriver:
    def __init__(self, roles: Roles | None = None, rollovers: Mapping[tuple[str, str], int] | None = None) -> None:
        self.roles = roles or Roles()
        self.rollovers = rollovers if rollovers is not None else {}  # (asset, signal) -> largest value
        self._last: dict[tuple[str, str], object] = {}
        self._parts: dict[str, _Parts] = {}

    def observe(self, sample: Sample) -> list[Event]:
        return self.observe_batch([sample])

    def observe_batch(self, samples: list[Sample]) -> list[Event]:
        """Events from samples that arrived together (one notification of a server, one message): counters
        that change together, a total and its defects, are reconciled once the whole batch is counted."""
        events: list[Event] = []
        touched: dict[str, Sample] = {}
        for sample in samples:
            events += self._one(sample, touched)
        for asset, last in touched.items():
            events += self._derived(asset, last)
        return events

    def _one(self, sample: Sample, touched: dict[str, Sample]) -> list[Event]:
        asset, signal = sample.asset, sample.signal
        if signal == self.roles.state_signal(asset):
            if sample.quality is not Quality.GOOD:
                return []  # a state not known for sure (a gap's repeat, a doubtful reading) changes nothing
            key = (asset, signal)
            previous = self._last.get(key)
            self._last[key] = sample.value
            if previous == sample.value or not isinstance(sample.value, str):
                return []
            return [Event(asset, EventKind.STATE_CHANGE, sample.ts, {"from": previous, "to": sample.value})]
        outcome = self.roles.outcome(asset, signal)
        if outcome is None or not isinstance(sample.value, int) or isinstance(sample.value, bool):
            return []
        key = (asset, signal)
        previous = self._last.get(key)
        self._last[key] = sample.value
        parts = self._parts.setdefault(asset, _Parts())
        parts.reported.add(outcome)
        if not isinstance(previous, int) or sample.value == previous:
            return []
        count = self._increase(previous, sample.value, self.rollovers.get(key))
        if count <= 0:
            return []
        parts.counted[outcome] += count
        touched[asset] = sample
        if outcome == "total":
            return []
        return [Event(asset, EventKind.PART, sample.ts, {"outcome": outcome, "count": count})]

    def _derived(self, asset: str, sample: Sample) -> list[Event]:
        """With a total counter, the one outcome no counter reports: good = total - scrap - rework (PackML),
        or scrap = total - good - rework (a machine tool's PartsGood beside its PartsCompleted)."""
        parts = self._parts[asset]
        if "total" not in parts.reported:
            return []
        missing = [o for o in ("good", "scrap") if o not in parts.reported]
        if len(missing) != 1:
            return []
        c = parts.counted
        other = "scrap" if missing[0] == "good" else "good"
        due = c["total"] - c[other] - c["rework"] - parts.derived_emitted
        if due <= 0:
            return []
        parts.derived_emitted += due
        return [Event(asset, EventKind.PART, sample.ts, {"outcome": missing[0], "count": due})]

    @staticmethod
    def _increase(previous: int, value: int, rollover: int | None) -> int:
        if value > previous:
            return value - previous
        if rollover is not None and previous <= rollover and previous - value > (rollover + 1) // 2:
            return rollover + 1 - previous + value  # wrapped
        return max(value, 0)  # reset to zero, then counted up to value
