"""The historian interface every backend implements (embedded SQLite now, InfluxDB next)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from plantmodel.telemetry import Event, EventKind, Record, Sample


class Historian(Protocol):
    """Writes are idempotent: a sample is keyed by (asset, signal, timestamp), so replays do not duplicate.

    Asset and signal arguments accept ``*`` wildcards (``acme/plant1/*/cnc-*``).
    """

    def write(self, records: Sequence[Record]) -> None: ...

    def samples(self, asset: str = "*", signal: str = "*", start: datetime | None = None,
                end: datetime | None = None) -> list[Sample]: ...

    def latest(self, asset: str = "*", signal: str = "*") -> list[Sample]: ...

    def events(self, asset: str = "*", kind: EventKind | None = None, start: datetime | None = None,
               end: datetime | None = None) -> list[Event]: ...

    def count_samples(self) -> int: ...

    def close(self) -> None: ...
