"""Where the alert lifecycle gets `now`: the wall clock in service, a hand-moved clock in tests and replays.

Escalation and shelving are about how long a person has left an alert alone, so they run on this clock;
rule delays (on-delay, off-delay) run on the source time of the data instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """Stands still until moved, so escalation and shelf expiry can be driven without sleeping."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at
