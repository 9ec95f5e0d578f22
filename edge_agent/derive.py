"""Events derived from the sample stream: state changes and parts, as OEE needs them.

Machines publish their state and part counters as variables; the event is the change. Which signal of an
asset is its state and which counters count parts comes from the plant model's catalogue when the agent is
given one (``plant:``), else from the namespace's conventions (``state``; ``parts_good``, ``parts_scrap``,
``parts_rework``, ``parts_total``).

Counters are what PLCs make of them:

- the first value seen sets a baseline (parts made before the agent listened are not this agent's to count);
- a counter that wraps (``counter: {rollover: 65535}`` in its mapping) counts across the wrap;
- any other drop is a reset, to zero: the new value is what was made since;
- a *total* counter (PackML's ProdProcessedCount) counts every part made; good parts are then the total's
  increase less the scrap and rework counted beside it. A defect may be reported after the part was
  counted good: the good count then pauses until the total catches up, so the sums are exact once both
  counters have been read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from plantmodel.plant import PlantConfig
from plantmodel.telemetry import PART_COUNTERS, STATE_SIGNAL, Event, EventKind, Sample

#: conventions for assets the agent has no plant model entry for
CONVENTION_COUNTERS: Mapping[str, str] = {**PART_COUNTERS, "parts_total": "total"}


@dataclass(slots=True)
class _Parts:
    """One asset's counted parts, for good = total - scrap - rework when the asset reports a total."""

    total: int = 0
    scrap: int = 0
    rework: int = 0
    good_emitted: int = 0
    has_good: bool = False


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
        asset, signal = sample.asset, sample.signal
        if signal == self.roles.state_signal(asset):
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
        if not isinstance(previous, int) or sample.value == previous:
            return []
        count = self._increase(previous, sample.value, self.rollovers.get(key))
        return self._parts_made(sample, outcome, count) if count > 0 else []

    @staticmethod
    def _increase(previous: int, value: int, rollover: int | None) -> int:
        if value > previous:
            return value - previous
        if rollover is not None and previous <= rollover and previous - value > (rollover + 1) // 2:
            return rollover + 1 - previous + value  # wrapped
        return max(value, 0)  # reset to zero, then counted up to value

    def _parts_made(self, sample: Sample, outcome: str, count: int) -> list[Event]:
        parts = self._parts.setdefault(sample.asset, _Parts())
        events = []
        if outcome == "good":
            parts.has_good = True
        elif outcome == "total":
            if parts.has_good:
                return []  # good parts are counted by their own counter
            parts.total += count
        elif outcome == "scrap":
            parts.scrap += count
        elif outcome == "rework":
            parts.rework += count
        if outcome != "total":
            events.append(Event(sample.asset, EventKind.PART, sample.ts, {"outcome": outcome, "count": count}))
        if outcome != "good" and not parts.has_good and parts.total:
            good = parts.total - parts.scrap - parts.rework - parts.good_emitted
            if good > 0:
                parts.good_emitted += good
                events.append(Event(sample.asset, EventKind.PART, sample.ts, {"outcome": "good", "count": good}))
        return events
