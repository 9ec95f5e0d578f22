"""The twin's read path into the historian: series, state timelines and the line at a past instant.

Reads run in worker threads or processes (both stores are blocking I/O). The embedded file is opened read-only
once it exists, so the twin never takes a lock the agent's writer needs; InfluxDB is read with InfluxQL over
`/query` and never written.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from historian.base import Historian
from historian.config import influx_token, open_influx
from historian.sqlite import SqliteHistorian
from plantmodel.catalog import AssetRole
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import AssetState, Sample
from twin.config import HistoryConfig
from twin.state import PlantTwin, Rejected, buffer_state

#: what a worker process needs to open the same historian: ("sqlite", path) or ("influxdb", settings, token)
Source = tuple[Any, ...]


class NoHistory(LookupError):
    """The twin has no historian to read (none configured, or the agent has not written one yet)."""


class HistoryReader:
    """`env` holds the secrets the config names (the InfluxDB token); default: the process environment."""

    def __init__(self, config: HistoryConfig | None, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self._token = influx_token(config.influxdb, env) if config is not None and config.influxdb else None
        self._historian: Historian | None = None
        self._lock = threading.Lock()

    @property
    def kind(self) -> str | None:
        if self.config is None:
            return None
        return "sqlite" if self.config.path is not None else "influxdb"

    def available(self) -> bool:
        """Configured, and (for the embedded file) written by the agent already."""
        if self.config is None:
            return False
        return self.config.path is None or self.config.path.exists()

    def source(self) -> Source:
        """The historian as a worker process opens it; NoHistory when there is none to read."""
        c = self.config
        if c is None:
            raise NoHistory("the twin has no historian configured (history: in its config)")
        if c.path is not None:
            return ("sqlite", str(c.path))
        assert c.influxdb is not None
        return ("influxdb", c.influxdb, self._token)

    def historian(self) -> Historian:
        with self._lock:
            if self._historian is None:
                self._historian = open_source(self.source())
            return self._historian

    def close(self) -> None:
        with self._lock:
            if self._historian is not None:
                self._historian.close()
                self._historian = None


def open_source(source: Source) -> Historian:
    """A reader on the historian `source` names (see `HistoryReader.source`)."""
    if source[0] == "sqlite":
        path = Path(source[1])
        if not path.exists():
            raise NoHistory(f"no history yet: {path} does not exist")
        return SqliteHistorian(path, readonly=True)
    return open_influx(source[1], token=source[2] or "", readonly=True)


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
