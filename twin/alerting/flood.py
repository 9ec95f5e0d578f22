"""Alert floods (ISA-18.2): more annunciations in a window than an operator can act on.

In a flood, individual notifications stop (those at or above the bypass severity still go out) and are
counted; one notification says the flood began, and one summary says what was held back once it ends. The
flood ends when the window holds half the limit or fewer, so it does not flap at the limit.
"""

from __future__ import annotations

from collections import Counter, deque
from datetime import datetime, timedelta
from typing import Any

from twin.alerting.config import FloodConfig, Severity


class FloodGate:
    def __init__(self, config: FloodConfig) -> None:
        self.config = config
        self._seen: deque[datetime] = deque()
        self.flooding = False
        self.since: datetime | None = None
        self.suppressed: Counter[str] = Counter()  # severity -> notifications held back in this flood
        self.assets: Counter[str] = Counter()
        self.floods = 0
        self.suppressed_total = 0
        self.last_summary: dict[str, Any] | None = None

    def _trim(self, now: datetime) -> int:
        edge = now - timedelta(seconds=self.config.window_s)
        while self._seen and self._seen[0] <= edge:
            self._seen.popleft()
        return len(self._seen)

    def admit(self, severity: Severity, asset: str, now: datetime) -> tuple[bool, bool]:
        """(send it?, did a flood just begin?) for one annunciation."""
        self._seen.append(now)
        began = False
        if not self.flooding and self._trim(now) > self.config.max_notifications:
            self.flooding, self.since, began = True, now, True
            self.floods += 1
            self.suppressed.clear()
            self.assets.clear()
        if not self.flooding:
            return True, False
        bypass = self.config.bypass_severity
        if bypass is not None and severity >= Severity[bypass]:
            return True, began
        self.suppressed[severity.name] += 1
        self.assets[asset] += 1
        self.suppressed_total += 1
        return False, began

    def ended(self, now: datetime) -> dict[str, Any] | None:
        """The summary of a flood that is over by `now`, once; None while it lasts (or without one)."""
        if not self.flooding or self._trim(now) > self.config.max_notifications // 2:
            return None
        self.flooding = False
        self.last_summary = {"started": self.since, "ended": now, "suppressed": dict(self.suppressed),
                             "suppressed_total": sum(self.suppressed.values()),
                             "top_assets": self.assets.most_common(5)}
        return self.last_summary

    def status(self, now: datetime) -> dict[str, Any]:
        return {"flooding": self.flooding, "since": self.since if self.flooding else None,
                "in_window": self._trim(now), "window_s": self.config.window_s,
                "max_notifications": self.config.max_notifications,
                "suppressed_now": dict(self.suppressed) if self.flooding else {},
                "floods": self.floods, "suppressed_total": self.suppressed_total, "last_summary": self.last_summary}
