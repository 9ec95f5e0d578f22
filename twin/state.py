"""The live state of every asset, kept from the stream of records. Pure: no I/O; plant time from the clock given."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plantmodel.catalog import AssetRole
from plantmodel.clock import Clock
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import AssetState, Event, Quality, Record, Sample, Value, to_micros
from plantmodel.validation import Refused, Window, conform, value_refusal

Rejected = Refused  # a record the twin will not apply, with the reason


def buffer_state(level: Value | None, capacity: Value | None) -> str:
    """empty, holding or full: a buffer's state follows from its level."""
    if level is None:
        return AssetState.UNKNOWN
    if level == 0:
        return "empty"
    return "full" if capacity is not None and level == capacity else "holding"


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
        spec = self.asset.spec
        if spec.role is AssetRole.BUFFER:
            level = self.signals.get(spec.level) if spec.level else None
            capacity = self.signals.get(spec.capacity) if spec.capacity else None
            return buffer_state(level.value if level else None,
                                capacity.value if capacity else self.asset.config.capacity)
        state = self.signals.get(spec.state) if spec.state else None
        return str(state.value) if state else AssetState.UNKNOWN

    def counter(self, name: str) -> int | None:
        s = self.signals.get(name)
        return s.value if s is not None and isinstance(s.value, int) else None

    def parts(self) -> dict[str, int | None]:
        """The part counters by outcome (good, scrap, ...), as the type names them; a machine that counts every
        part (total) beside its bad or its good ones shows the other as the difference."""
        out: dict[str, int | None] = {
            outcome: self.counter(name) for name, outcome in self.asset.spec.part_counters.items()
            if name in self.signals or outcome in ("good", "scrap")}
        total = out.get("total")
        if total is not None and out.get("good") is None:
            out["good"] = total - (out.get("scrap") or 0) - (out.get("rework") or 0)
        elif total is not None and out.get("scrap") is None and out.get("good") is not None:
            out["scrap"] = total - (out["good"] or 0) - (out.get("rework") or 0)
        return out

    def as_dict(self) -> dict[str, Any]:
        a = self.asset
        return {
            "id": a.path, "name": a.config.name or a.id, "type": str(a.type), "line": a.line_path, "cell": a.cell,
            "state": self.state, "state_since": self.state_since,
            "role": str(a.role), "parts": self.parts(),
            "signals": {name: {"value": s.value, "unit": s.unit, "ts": s.ts, "quality": s.quality}
                        for name, s in sorted(self.signals.items())},
        }


class PlantTwin:
    """Every asset of the plant model; records for anything else are rejected, not invented.

    With a `clock`, a record stamped more than `max_future_s` ahead of plant time is refused: a forged or broken
    timestamp must not sit on top of every real value that follows.
    """

    def __init__(self, plant: PlantConfig, listeners: Sequence[Callable[[Record], None]] = (),
                 clock: Clock | None = None, max_future_s: float = 300.0) -> None:
        self.assets = {a.path: AssetTwin(a) for a in plant.assets()}
        self.listeners = list(listeners)  # told of every record accepted, after the state is updated
        #: the timestamps accepted: plantmodel.validation's window, as at the agent's intake and the historian
        self.window = Window(max_future_s, clock.now_us) if clock is not None else None

    def apply(self, record: Record, tell: bool = True) -> None:
        """`tell`: pass it on to the listeners (OEE, alerts, ...); without, only the live state takes it."""
        twin = self.assets.get(record.asset)
        if twin is None:
            raise Rejected("unknown_asset", "asset", f"{record.asset!r} is not in the plant model")
        if self.window is not None and (bad := self.window.refusal(to_micros(record.ts))) is not None:
            raise Rejected(bad.reason, bad.field, f"{record.ts.isoformat()}: {bad.detail}")
        if isinstance(record, Event):
            twin.last_event = record
            if tell:
                self._tell(record)
            return
        spec = twin.asset.signal(record.signal)
        if spec is None:
            raise Rejected("unknown_signal", "signal",
                           f"a {twin.asset.type} has no signal {record.signal!r} ({record.asset})")
        if (bad := value_refusal(record.value)) is not None:  # conform knows the kind; this, the wire's limits
            raise Rejected(bad.reason, bad.field, f"{record.asset}/{record.signal}: {bad.detail}")
        record = conform(record, spec)
        self._apply_sample(twin, record)
        if tell:
            self._tell(record)

    def _tell(self, record: Record) -> None:
        for listener in self.listeners:
            listener(record)

    @staticmethod
    def _apply_sample(twin: AssetTwin, sample: Sample) -> None:
        current = twin.signals.get(sample.signal)
        if current is not None and sample.ts < current.ts:
            return  # late arrival: history has it, the live state keeps the newer value
        if sample.signal == twin.asset.spec.state and (current is None or current.value != sample.value):
            twin.state_since = sample.ts
        twin.signals[sample.signal] = SignalState(sample.value, sample.unit, sample.ts, sample.quality)

    def snapshot(self) -> list[dict[str, Any]]:
        return [t.as_dict() for t in self.assets.values()]
