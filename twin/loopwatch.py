"""How late the event loop runs: the stall that every request, WebSocket push and MQTT message waited through.

A timer due every `every_s` is measured against when it fired; anything a handler does on the loop for long
(a big serialisation, a blocking call) shows up here at once. Served in /metrics and /api/health.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from twin.metrics import LATENCY_BUCKETS, Histogram


class LoopWatch:
    def __init__(self, every_s: float = 0.05, window_s: float = 60.0) -> None:
        self.every_s, self.window_s = every_s, window_s
        self.stalls = Histogram(LATENCY_BUCKETS)
        self.max_s = 0.0  # since start
        self._recent: deque[tuple[float, float]] = deque()  # (when, stall) over the last window_s

    def observe(self, stall_s: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.stalls.observe(stall_s)
        self.max_s = max(self.max_s, stall_s)
        self._recent.append((now, stall_s))
        while self._recent[0][0] < now - self.window_s:
            self._recent.popleft()

    def recent_max_s(self, within_s: float | None = None) -> float:
        """The longest stall in the last `within_s` (at most `window_s`, the default)."""
        cutoff = time.monotonic() - min(within_s or self.window_s, self.window_s)
        return max((s for t, s in self._recent if t >= cutoff), default=0.0)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + self.every_s
            await asyncio.sleep(self.every_s)
            self.observe(max(0.0, loop.time() - due))
