"""Notifications by webhook (HTTP POST of JSON) and MQTT, with retries and backoff, off the alert path.

The engine only puts a message on each target's bounded queue; one task per target sends them in order and
retries a failure with exponential backoff (tenacity). Whatever happens, the outcome is counted and kept
(`sent`, `failed`, `dropped` when a queue is full), so a webhook that is down is visible, not silent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from plantmodel import mqtt
from twin.alerting.config import MqttTarget, RetryConfig, Severity, Target, WebhookTarget
from twin.auth import AuthError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notification:
    event: str  # raised, reactivated, escalated, flood_started, flood_ended
    at: datetime
    severity: Severity
    alert: Mapping[str, Any] | None = None
    summary: Mapping[str, Any] | None = None
    only: tuple[str, ...] = ()  # target names; empty: every target that takes it
    escalation: bool = False

    def payload(self) -> dict[str, Any]:
        return {"event": self.event, "at": self.at, "severity": self.severity.name, "alert": self.alert,
                "summary": self.summary}

    def body(self) -> bytes:
        return json.dumps(self.payload(), default=_jsonable).encode()


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else str(v)


class Channel(Protocol):
    name: str

    async def start(self) -> None: ...

    def connected(self) -> bool: ...

    async def send(self, n: Notification) -> None: ...

    async def close(self) -> None: ...


class WebhookChannel:
    def __init__(self, target: WebhookTarget, env: Mapping[str, str]) -> None:
        self.name, self.target = target.name, target
        missing = [v for v in target.headers_env.values() if not env.get(v)]
        if missing:
            raise AuthError(f"alerts.notify ({target.name}).headers_env: environment variable(s) "
                            f"{', '.join(missing)} not set")
        self.headers = {"Content-Type": "application/json"} | {h: env[v] for h, v in target.headers_env.items()}
        self.client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self.client = httpx.AsyncClient(timeout=self.target.timeout_s, headers=self.headers)

    def connected(self) -> bool:
        return self.client is not None  # a connection per request: known only by sending

    async def send(self, n: Notification) -> None:
        assert self.client is not None
        r = await self.client.post(self.target.url, content=n.body())
        r.raise_for_status()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()


class MqttChannel:
    def __init__(self, target: MqttTarget, broker: mqtt.BrokerConfig, client_id: str) -> None:
        self.name, self.target, self.broker = target.name, target, broker
        try:
            self.client = mqtt.make_client(broker, client_id)
        except ValueError as exc:  # its password's variable is not set
            raise AuthError(f"alerts.notify ({target.name}).broker: {exc}") from None

    async def start(self) -> None:
        mqtt.start(self.client, self.broker)

    def connected(self) -> bool:
        return self.client.is_connected()

    async def send(self, n: Notification) -> None:
        a = n.alert or {}
        topic = self.target.topic.format(asset=a.get("asset", "flood"), severity=n.severity.name,
                                         rule=a.get("rule", "flood"), id=a.get("id", 0))
        if not self.client.is_connected():
            raise ConnectionError(f"not connected to the broker at {self.broker.url}")
        info = self.client.publish(topic, n.body(), qos=self.target.qos, retain=self.target.retain)
        if info.rc != 0:
            raise ConnectionError(f"publish to {topic} refused (paho rc {info.rc})")
        if self.target.qos:  # the broker's acknowledgement, waited for in a thread: paho's wait blocks
            await asyncio.to_thread(info.wait_for_publish, 10.0)
            if not info.is_published():
                raise TimeoutError(f"no acknowledgement from {self.broker.url} for {topic} in 10 s")

    async def close(self) -> None:
        await asyncio.to_thread(mqtt.stop, self.client)


@dataclass(slots=True)
class _Lane:
    channel: Channel
    target: Target
    queue: asyncio.Queue[tuple[Notification, float]] | None = None
    task: asyncio.Task[None] | None = None
    waiting: list[tuple[Notification, float]] = field(default_factory=list)  # before start


Outcome = Callable[[Notification, str, bool, int, str | None], None]  # n, target, ok, attempts, error


class Notifier:
    def __init__(self, targets: list[Target], retry: RetryConfig, queue: int, broker: mqtt.BrokerConfig,
                 client_id: str, env: Mapping[str, str] | None = None, outcome: Outcome | None = None) -> None:
        env = os.environ if env is None else env
        self.retry, self.limit, self.outcome = retry, queue, outcome
        self.lanes: list[_Lane] = []
        for t in targets:
            ch: Channel = (WebhookChannel(t, env) if isinstance(t, WebhookTarget)
                           else MqttChannel(t, t.broker or broker, f"{client_id}-alerts-{t.name}"))
            self.lanes.append(_Lane(ch, t))
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.last_error: dict[str, str] = {}
        self.latency_s: dict[str, float] = {}  # last submit-to-delivered time per target

    async def start(self) -> None:
        for lane in self.lanes:
            await lane.channel.start()
            lane.queue = asyncio.Queue(self.limit)
            for item in lane.waiting:
                lane.queue.put_nowait(item)
            lane.waiting.clear()
            lane.task = asyncio.create_task(self._run(lane), name=f"alert-notify-{lane.channel.name}")

    async def stop(self) -> None:
        for lane in self.lanes:
            if lane.task is not None:
                lane.task.cancel()
                try:
                    await lane.task
                except asyncio.CancelledError:
                    pass
            await lane.channel.close()

    def takes(self, target: Target, n: Notification) -> bool:
        if n.only:
            return target.name in n.only
        if target.escalation_only and not n.escalation:
            return False
        return n.severity >= Severity[target.min_severity] or n.event.startswith("flood")

    def submit(self, n: Notification) -> int:
        """Queue it for every target that takes it (never waits); how many queued it."""
        queued, now = 0, time.monotonic()
        for lane in self.lanes:
            if not self.takes(lane.target, n):
                continue
            name = lane.channel.name
            if lane.queue is None:
                if len(lane.waiting) < self.limit:
                    lane.waiting.append((n, now))
                    queued += 1
                else:
                    self.dropped[name] += 1
                continue
            try:
                lane.queue.put_nowait((n, now))
                queued += 1
            except asyncio.QueueFull:
                self.dropped[name] += 1
                self.last_error[name] = "queue full: notification dropped"
                log.error("alert notifications to %s are backing up: dropped one", name)
        return queued

    async def _run(self, lane: _Lane) -> None:
        assert lane.queue is not None
        name, r = lane.channel.name, self.retry
        while True:
            n, submitted = await lane.queue.get()
            attempts, error = 0, None
            try:
                async for attempt in AsyncRetrying(stop=stop_after_attempt(r.attempts), reraise=True,
                                                   wait=wait_exponential(multiplier=r.backoff_s, max=r.backoff_max_s)):
                    with attempt:
                        attempts = attempt.retry_state.attempt_number
                        if attempts > 1:
                            self.retries[name] += 1
                        await lane.channel.send(n)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is counted and kept; the lane goes on with the next one
                error = f"{type(exc).__name__}: {exc}"
                self.failed[name] += 1
                self.last_error[name] = error
                log.warning("alert notification %s to %s failed after %d attempts: %s", n.event, name, attempts,
                            error)
            else:
                self.sent[name] += 1
                self.latency_s[name] = time.monotonic() - submitted
            if self.outcome is not None:
                self.outcome(n, name, error is None, attempts, error)

    def status(self) -> list[dict[str, Any]]:
        return [{"target": lane.channel.name, "type": lane.target.type, "connected": lane.channel.connected(),
                 "sent": self.sent[lane.channel.name],
                 "failed": self.failed[lane.channel.name], "dropped": self.dropped[lane.channel.name],
                 "retries": self.retries[lane.channel.name],
                 "queued": (lane.queue.qsize() if lane.queue is not None else len(lane.waiting)),
                 "last_error": self.last_error.get(lane.channel.name),
                 "last_latency_s": self.latency_s.get(lane.channel.name)} for lane in self.lanes]
