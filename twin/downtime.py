"""Stops as they happen: detected from state changes, unqualified until a reason is known.

A reason comes from the machine's alarm code (mapped through config), or from a person through the API;
a person's reason wins. Who gave it, when and why is kept with it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.oee.downtime import UNQUALIFIED, Stop
from analytics.oee.model import US
from plantmodel.telemetry import AssetState, Event, EventKind, Sample, from_micros, to_micros

STOP_STATES = {AssetState.DOWN: "failure", AssetState.SETUP: "setup", AssetState.PLANNED_STOP: "planned_stop"}
ALARM_SIGNAL = "alarm_code"
NO_ALARM = frozenset({"", "none", "0"})  # what a controller reports when no alarm is active


@dataclass(slots=True)
class StopRecord:
    asset: str
    start: int
    kind: str
    end: int | None = None
    code: str | None = None
    reason: str | None = None
    reason_source: str | None = None  # "alarm_code" or "operator"
    by: str | None = None
    comment: str | None = None
    qualified_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.asset}@{self.start}"

    def as_stop(self) -> Stop:
        return Stop(self.asset, self.start, self.end, self.kind, self.code, self.reason)

    def as_dict(self, now: int) -> dict[str, Any]:
        end = self.end if self.end is not None else now
        return {"id": self.id, "asset": self.asset, "kind": self.kind, "start": from_micros(self.start),
                "end": from_micros(self.end) if self.end is not None else None, "open": self.end is None,
                "duration_s": max(0, end - self.start) / US, "code": self.code,
                "reason": self.reason or UNQUALIFIED, "qualified": self.reason is not None,
                "reason_source": self.reason_source, "by": self.by, "comment": self.comment,
                "qualified_at": self.qualified_at}


class StopLog:
    def __init__(self, reasons: Mapping[str, str], minor_stop_s: float, keep: int = 5000) -> None:
        self.reasons, self.minor_stop_us = dict(reasons), int(minor_stop_s * US)
        self.stops: deque[StopRecord] = deque(maxlen=keep)
        self._open: dict[str, StopRecord] = {}
        self._alarm: dict[str, str] = {}

    def observe(self, record: Event | Sample) -> None:
        if isinstance(record, Sample):
            if record.signal == ALARM_SIGNAL:
                code = str(record.value).strip()
                code = "" if code.lower() in NO_ALARM else code
                self._alarm[record.asset] = code
                # an alarm reported at (or just after) the stop it caused: the state and the code of one instant
                # may arrive in either order
                if code and (stop := self._open.get(record.asset)) is not None and stop.code is None:
                    self._set_code(stop, code)
            return
        if record.kind is not EventKind.STATE_CHANGE:
            return
        ts, to = to_micros(record.ts), str(record.data.get("to"))
        stop = self._open.pop(record.asset, None)
        if stop is not None:
            stop.end = max(ts, stop.start)
            if stop.kind == "failure" and stop.end - stop.start < self.minor_stop_us:
                stop.kind = "minor_stop"
        kind = STOP_STATES.get(to)  # type: ignore[call-overload]
        if kind is None:
            return
        new = StopRecord(record.asset, ts, kind)
        reason: Any = record.data.get("reason") or self._alarm.get(record.asset)
        if reason:
            self._set_code(new, str(reason))
        self.stops.append(new)
        self._open[record.asset] = new

    def _set_code(self, stop: StopRecord, code: str) -> None:
        stop.code = code
        if code in self.reasons and stop.reason_source != "operator":
            stop.reason, stop.reason_source = self.reasons[code], "alarm_code"

    def qualify(self, stop_id: str, reason: str, by: str, comment: str | None, at: datetime) -> StopRecord | None:
        for stop in self.stops:
            if stop.id == stop_id:
                stop.reason, stop.reason_source, stop.by, stop.comment, stop.qualified_at = (
                    reason, "operator", by, comment, at)
                return stop
        return None

    def select(self, asset_prefix: str = "", start: int | None = None, end: int | None = None,
               unqualified: bool = False) -> list[StopRecord]:
        return [s for s in self.stops if s.asset.startswith(asset_prefix)
                and (start is None or s.end is None or s.end > start) and (end is None or s.start < end)
                and (not unqualified or s.reason is None)]
