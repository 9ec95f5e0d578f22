"""What a historian accepts: the rules of base.py's contract, shared by every backend.

Hot path first: a series seen before costs a dict lookup and a type check per sample.

>>> gate = Gate()
>>> gate.series_kind("acme/plant1/machining/line1/turning/cnc-1", "spindle_speed", 8000.0)
<SignalKind.ANALOG: 'analog'>
>>> gate.series_kind("acme/cnc-1", "spindle_speed", 1.0).reason
'bad_asset'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import orjson

from historian.layout import EVENTS
from plantmodel.catalog import SignalKind, builtin
from plantmodel.telemetry import EPOCH, Event, Sample, Value, to_micros
from plantmodel.validation import EVENT_KINDS, OLDEST_US, SIGNAL_NAME, Refusal, Window, asset_refusal, signal_refusal

__all__ = ["OLDEST_US", "SIGNAL_NAME", "Gate", "Refusal", "micros"]
NUMERIC_KINDS = frozenset({SignalKind.ANALOG, SignalKind.COUNTER})
#: kinds of the shipped types' signals; any other series takes its kind from its first value
CATALOG_KINDS: dict[str, SignalKind] = {n: s.kind for t in builtin().types.values() for n, s in t.signals.items()}
ONE_US = timedelta(microseconds=1)


def micros(ts: datetime) -> int:
    """Microseconds since the epoch; aware datetimes take the C fast path, naive ones count as UTC."""
    try:
        return (ts - EPOCH) // ONE_US
    except TypeError:
        return to_micros(ts)


def numeric_value(value: Value) -> float | Refusal:
    if type(value) is float:
        return value if math.isfinite(value) else Refusal("not_finite", "value", f"{value} is not a finite number")
    if isinstance(value, int):  # bool is an int: stored as 0.0 / 1.0
        return float(value)
    return Refusal("wrong_type", "value", f"expected a number, got {type(value).__name__} {value!r:.40}")


def text_value(value: Value) -> str | Refusal:
    if isinstance(value, str):
        return value
    return Refusal("wrong_type", "value", f"expected text, got {type(value).__name__} {value!r:.40}")


class Gate:
    """Decides, per record, whether a historian stores it; remembers each series' kind."""

    def __init__(self, max_future_s: float = 3600.0, clock: Callable[[], float] = time.time) -> None:
        """`clock`: plant time in seconds; the timestamp window is plantmodel.validation's, as for every receiver."""
        self.max_future_s = max_future_s
        self.window = Window(max_future_s, lambda: int(clock() * 1_000_000))
        self.kinds: dict[tuple[str, str], SignalKind] = {}

    def series_kind(self, asset: str, signal: str, value: Value) -> SignalKind | Refusal:
        """The kind of a series, fixed by its first value when the catalogue does not name the signal."""
        key = (asset, signal)
        kind = self.kinds.get(key)
        if kind is not None:
            return kind
        refusal = asset_refusal(asset)
        if refusal is not None:
            return refusal
        refusal = signal_refusal(signal)
        if refusal is not None:
            return refusal
        if signal == EVENTS:
            return Refusal("bad_signal", "signal", f"{signal!r:.80} is the historian's own name for events")
        kind = CATALOG_KINDS.get(signal) or (SignalKind.TEXT if isinstance(value, str) else SignalKind.ANALOG)
        self.kinds[key] = kind
        return kind

    def time_window_us(self) -> tuple[int, int]:
        """Timestamps accepted now: from 2000 to the clock plus the allowed lead."""
        return OLDEST_US, self.window.newest_us()

    def timestamp_refusal(self, ts_us: int) -> Refusal:
        return self.window.refusal(ts_us, self.window.newest_us()) or Refusal("bad_timestamp", "ts", "out of window")

    def value(self, kind: SignalKind, value: Value) -> float | str | Refusal:
        return numeric_value(value) if kind in NUMERIC_KINDS else text_value(value)

    def sample(self, s: Sample) -> tuple[SignalKind, float | str, int] | Refusal:
        """(kind, value to store, timestamp in microseconds), or why not: the general path."""
        kind = self.series_kind(s.asset, s.signal, s.value)
        if isinstance(kind, Refusal):
            return kind
        us = micros(s.ts)
        oldest, newest = self.time_window_us()
        if not oldest <= us <= newest:
            return self.timestamp_refusal(us)
        value = self.value(kind, s.value)
        return value if isinstance(value, Refusal) else (kind, value, us)

    def event(self, e: Event, newest_us: int | None = None) -> tuple[str, int, str, str] | Refusal:
        """(asset, timestamp in microseconds, kind, data as sorted JSON), or why not."""
        refusal = asset_refusal(e.asset)
        if refusal is not None:
            return refusal
        us = micros(e.ts)
        if not OLDEST_US <= us <= (newest_us if newest_us is not None else self.time_window_us()[1]):
            return self.timestamp_refusal(us)
        if e.kind not in EVENT_KINDS:
            return Refusal("wrong_type", "kind", f"unknown event kind {e.kind!r:.40}")
        try:
            data = orjson.dumps(dict(e.data), option=orjson.OPT_SORT_KEYS).decode()
        except (TypeError, ValueError) as exc:
            return Refusal("wrong_type", "data", f"event data is not JSON: {exc}")
        return (e.asset, us, str(e.kind), data)
