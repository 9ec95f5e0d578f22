"""The live state of every asset, kept from the stream of records. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plantmodel.catalog import AssetType, SignalKind, signal_spec
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import STATE_SIGNAL, AssetState, Event, Quality, Record, Sample, Value


class Rejected(ValueError):
    def __init__(self, reason: str, field: str, detail: str) -> None:
        self.reason, self.field, self.detail = reason, field, detail
        super().__init__(f"{field}: {detail}")


@dataclass(slots=True)
class SignalState:
    value: Value
    unit: str
    ts: datetime
    quality: Quality


@dataclass(slots=True)
class AssetTwin:
    asset: Asset
    signals: dict[str, SignalState] = field(default_factory=dict)
    state_since: datetime | None = None
    last_event: Event | None = None

    @property
    def state(self) -> str:
        if self.asset.type is AssetType.BUFFER:
            level, capacity = self.signals.get("level"), self.signals.get("capacity")
            if level is None:
                return AssetState.UNKNOWN
            if level.value == 0:
                return "empty"
            return "full" if capacity is not None and level.value == capacity.value else "holding"
        state = self.signals.get(STATE_SIGNAL)
        return str(state.value) if state else AssetState.UNKNOWN

    def counter(self, name: str) -> int | None:
        s = self.signals.get(name)
        return s.value if s is not None and isinstance(s.value, int) else None

    def as_dict(self) -> dict[str, Any]:
        a = self.asset
        return {
            "id": a.path, "name": a.config.name or a.id, "type": str(a.type), "line": a.line_path, "cell": a.cell,
            "state": self.state, "state_since": self.state_since,
            "parts": {"good": self.counter("parts_good"), "scrap": self.counter("parts_scrap")},
            "signals": {name: {"value": s.value, "unit": s.unit, "ts": s.ts, "quality": s.quality}
                        for name, s in sorted(self.signals.items())},
        }


class PlantTwin:
    """Every asset of the plant model; records for anything else are rejected, not invented."""

    def __init__(self, plant: PlantConfig, listeners: Sequence[Callable[[Record], None]] = ()) -> None:
        self.assets = {a.path: AssetTwin(a) for a in plant.assets()}
        self.listeners = list(listeners)  # told of every record accepted, after the state is updated

    def apply(self, record: Record) -> None:
        twin = self.assets.get(record.asset)
        if twin is None:
            raise Rejected("unknown_asset", "asset", f"{record.asset!r} is not in the plant model")
        if isinstance(record, Event):
            twin.last_event = record
            self._tell(record)
            return
        spec = signal_spec(twin.asset.type, record.signal)
        if spec is None:
            raise Rejected("unknown_signal", "signal",
                           f"a {twin.asset.type} has no signal {record.signal!r} ({record.asset})")
        textual = spec.kind in (SignalKind.STATE, SignalKind.TEXT)
        if isinstance(record.value, str) != textual or isinstance(record.value, bool):
            raise Rejected("wrong_type", "value", f"{record.asset}/{record.signal} expects "
                           f"{'text' if textual else 'a number'}, got {record.value!r}")
        self._apply_sample(twin, record)
        self._tell(record)

    def _tell(self, record: Record) -> None:
        for listener in self.listeners:
            listener(record)

    @staticmethod
    def _apply_sample(twin: AssetTwin, sample: Sample) -> None:
        current = twin.signals.get(sample.signal)
        if current is not None and sample.ts < current.ts:
            return  # late arrival: history has it, the live state keeps the newer value
        if sample.signal == STATE_SIGNAL and (current is None or current.value != sample.value):
            twin.state_since = sample.ts
        twin.signals[sample.signal] = SignalState(sample.value, sample.unit, sample.ts, sample.quality)

    def snapshot(self) -> list[dict[str, Any]]:
        return [t.as_dict() for t in self.assets.values()]
