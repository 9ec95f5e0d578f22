"""The live stream to WebSocket clients: changes of the twin, coalesced per client, filtered by asset path.

Records arrive at the line's rate; clients get at most one message per `interval_s` carrying the current
state of every asset that changed since their last message (never a backlog of stale states). A slow
client therefore costs one pending dict, not a growing queue, and can never hold up the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any

import orjson

from plantmodel.clock import Clock, PlantClock
from plantmodel.telemetry import Record
from twin.auth import Principal
from twin.state import PlantTwin

log = logging.getLogger(__name__)
_ids = count(1)


def _dumps(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z).decode()


@dataclass(eq=False)
class Subscriber:
    """One connected client: what it asked for, what it may see, and what it has not been sent yet."""

    principal: Principal
    prefixes: tuple[str, ...]
    send: Callable[[str], Any]  # an async send_text
    id: int = field(default_factory=lambda: next(_ids))
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0

    def wants(self, path: str) -> bool:
        if not self.principal.sees(path):
            return False
        return not self.prefixes or any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.prefixes)


class LiveStream:
    def __init__(self, twin: PlantTwin, render: Callable[[str, datetime], dict[str, Any]],
                 interval_s: float = 0.2, max_alerts: int = 200, clock: Clock | None = None) -> None:
        self.twin, self.render = twin, render
        self.clock: Clock = clock or PlantClock()  # plant time: what ages and "ts" are measured against
        self.interval_s, self.max_alerts = interval_s, max_alerts
        self.subscribers: set[Subscriber] = set()
        self._dirty: set[str] = set()
        self.messages_sent = 0
        self.alerts_dropped = 0

    def observe(self, record: Record) -> None:
        """A twin listener: note which asset changed; the state itself is read when the tick sends it."""
        if self.subscribers:
            self._dirty.add(record.asset)

    def alert(self, alert: dict[str, Any]) -> None:
        """An alert changed: every subscriber that sees its asset gets it in its next message."""
        for sub in self.subscribers:
            if sub.wants(str(alert.get("asset", ""))):
                if len(sub.alerts) >= self.max_alerts:
                    del sub.alerts[0]
                    self.alerts_dropped += 1
                sub.alerts.append(alert)
                sub.wake.set()

    def snapshot(self, sub: Subscriber) -> str:
        now = self.clock.now()
        return _dumps({"type": "snapshot", "ts": now,
                       "assets": [self.render(p, now) for p in self.twin.assets if sub.wants(p)]})

    async def run(self, stop: asyncio.Event) -> None:
        """Every `interval_s`: render each changed asset once, hand it to every subscriber that wants it."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.interval_s)
            except TimeoutError:
                pass
            if not self._dirty:
                continue
            dirty, self._dirty = self._dirty, set()
            now = self.clock.now()
            rendered = {p: self.render(p, now) for p in dirty}
            for sub in self.subscribers:
                mine = {p: d for p, d in rendered.items() if sub.wants(p)}
                if mine:
                    sub.assets.update(mine)
                    sub.wake.set()

    async def serve(self, sub: Subscriber, closed: asyncio.Event) -> None:
        """Send `sub` its snapshot, then its pending changes whenever there are some, until `closed`."""
        self.subscribers.add(sub)
        try:
            await sub.send(self.snapshot(sub))
            while not closed.is_set():
                waiter = asyncio.ensure_future(sub.wake.wait())
                closer = asyncio.ensure_future(closed.wait())
                try:
                    await asyncio.wait([waiter, closer], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    closer.cancel()
                if closed.is_set():
                    break
                sub.wake.clear()
                assets, sub.assets = sub.assets, {}
                alerts, sub.alerts = sub.alerts, []
                message: dict[str, Any] = {"type": "update", "ts": self.clock.now(), "assets": list(assets.values())}
                if alerts:
                    message["alerts"] = alerts
                await sub.send(_dumps(message))
                sub.sent += 1
                self.messages_sent += 1
        finally:
            self.subscribers.discard(sub)
