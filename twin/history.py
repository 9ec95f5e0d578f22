"""The twin's read path into the historian: series, state timelines and the line at a past instant.

Reads run in a worker thread (SQLite is blocking I/O); the reader is opened read-only once the historian's file
exists, so the twin never takes a lock the agent's writer needs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from historian.base import Historian
from historian.sqlite import SqliteHistorian
from plantmodel.catalog import AssetRole
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import AssetState, Sample
from twin.state import PlantTwin, Rejected, buffer_state


class NoHistory(LookupError):
    """The twin has no historian to read (none configured, or the agent has not written one yet)."""


class HistoryReader:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._historian: Historian | None = None
        self._lock = threading.Lock()

    def historian(self) -> Historian:
        with self._lock:
            if self._historian is None:
                if self.path is None:
                    raise NoHistory("the twin has no historian configured (history: in its config)")
                if not self.path.exists():
                    raise NoHistory(f"no history yet: {self.path} does not exist")
                self._historian = SqliteHistorian(self.path, readonly=True)
            return self._historian

    def close(self) -> None:
        with self._lock:
            if self._historian is not None:
                self._historian.close()
                self._historian = None


@dataclass(frozen=True, slots=True)
class Segment:
    state: str
    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "start": self.start, "end": self.end,
                "duration_s": (self.end - self.start).total_seconds()}


def timeline(history: Historian, asset: Asset, start: datetime, end: datetime) -> list[Segment]:
    """The asset's state over [start, end): from its state signal, or a buffer's from its fill level."""
    spec = asset.spec
    signal = spec.level if spec.role is AssetRole.BUFFER else spec.state
    if signal is None:
        return [Segment(AssetState.UNKNOWN, start, end)]
    before = history.latest(asset.path, signal, at=start)
    points = [(start, before[0].value)] if before else []
    points += [(s.ts, s.value) for s in history.samples(asset.path, signal, start, end) if s.ts > start or not before]
    if spec.role is AssetRole.BUFFER:
        points = [(t, buffer_state(v, asset.config.capacity)) for t, v in points]
    changes: list[tuple[datetime, str]] = []
    for t, value in points:
        if not changes or changes[-1][1] != str(value):
            changes.append((max(t, start), str(value)))
    return [Segment(v, t, changes[i + 1][0] if i + 1 < len(changes) else end) for i, (t, v) in enumerate(changes)]





def line_at(history: Historian, plant: PlantConfig, at: datetime, prefix: str = "") -> PlantTwin:
    """A twin rebuilt from the newest value of every signal at or before `at`: the line as it was then."""
    twin = PlantTwin(plant)
    pattern = f"{prefix.rstrip('/')}*" if prefix else "*"
    samples: list[Sample] = sorted(history.latest(pattern, "*", at=at), key=lambda s: s.ts)
    for s in samples:
        try:
            twin.apply(s)
        except Rejected:
            continue  # history may hold assets or signals the plant model no longer has
    return twin
