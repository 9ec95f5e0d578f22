"""Feeds the twin from the MQTT unified namespace; bad messages are counted and kept, never fatal.

A plant's namespace never goes quiet: no live message for `silence_s` means a broken feed (a subscription lost,
a session taken over by a client with the same id), so the feed says so and reconnects. Its client id carries
a random suffix per instance. Counters by line are kept for the plant model's lines only (anything else counts
as "other"), and warnings about rejected messages are rationed, so junk topics cannot inflate /metrics or the
log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from plantmodel import mqtt
from plantmodel.clock import Clock, PlantClock
from plantmodel.logbudget import LogBudget
from plantmodel.telemetry import Record, Sample, to_micros
from plantmodel.uns import ASSET_DEPTH, PayloadError, decode
from twin.backfill import Admission, Backfill, Held
from twin.metrics import INGEST_BUCKETS, Histogram
from twin.state import PlantTwin, Rejected

log = logging.getLogger(__name__)
_budget = LogBudget(log)
OTHER_LINE = "other"


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    received_at: float
    topic: str
    reason: str
    field: str
    detail: str
    payload: str


SHARED_PREFIX = "$share/"
_LIVE, _CATCH_UP = 1, 2  # MQTT 5 subscription identifiers


def shared_filter(topic: str) -> str | None:
    """The topic filter inside `$share/<group>/<filter>`, or None for an ordinary subscription."""
    if not topic.startswith(SHARED_PREFIX):
        return None
    parts = topic.split("/", 2)
    return parts[2] if len(parts) == 3 else None


class UnsFeed:
    """With shared subscriptions (`$share/<group>/<line>/#`, MQTT 5), the broker hands each message of a line to
    one member of its group; the retained values of those lines are fetched once per connection through an
    ordinary subscription (some brokers do not send retained messages to shared subscriptions), keeping
    only what the shared subscription did not already bring."""

    def __init__(self, twin: PlantTwin, broker: mqtt.BrokerConfig, topics: list[str], client_id: str,
                 keep: int = 1000, silence_s: float = 0.0, clock: Clock | None = None) -> None:
        self.twin, self.broker, self.topics = twin, broker, topics
        self.clock: Clock = clock or PlantClock()  # the latency is wall time from a sample's plant time
        shared = [f for t in topics if (f := shared_filter(t)) is not None]
        if shared and broker.protocol != "5":
            raise ValueError("shared subscriptions ($share/...) need MQTT 5: set broker.protocol to \"5\"")
        self.catch_up_filters = shared
        self.client_id = mqtt.unique_client_id(client_id)
        self.client = mqtt.make_client(broker, self.client_id)
        self.silence_s = silence_s
        self.last_live = time.monotonic()  # last live (not retained) message, or the last (re)connection
        self.silent = False
        self.silence_restarts = 0
        self._lines = {"/".join(path.split("/")[:4]) for path in twin.assets}
        self.connected = False
        self.connects = 0
        self.messages = 0
        self.messages_by_line: Counter[str] = Counter()
        self.latency = Histogram(INGEST_BUCKETS)  # a sample's source timestamp to its application to the twin's state
        self.rejected_counts: Counter[str] = Counter()
        self.rejected: deque[RejectedMessage] = deque(maxlen=keep)
        self.subscribed = False  # the broker confirmed the live subscriptions of the current connection
        self._live_mid: int | None = None
        self._seen: set[str] = set()  # topics received since connecting, while the catch-up is under way
        self._catching_up = False
        self.gate: Backfill | None = None  # fills the gaps from the historian; asked about every record
        self.duplicates = 0  # records skipped as applied already (a retained message seen before, a replay)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        v5 = self.broker.protocol == "5"

        def subscribe_props(ident: int) -> Properties | None:
            if not v5:
                return None
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = ident
            return props

        def on_connect(client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
            if not rc.is_failure:
                self.connected = True
                self.connects += 1
                self.last_live = time.monotonic()
                if self.gate is not None:  # queued before any message of this connection
                    loop.call_soon_threadsafe(self.gate.connected_again)
                self._seen.clear()
                _, self._live_mid = client.subscribe([(t, 1) for t in self.topics], properties=subscribe_props(_LIVE))
                if self.catch_up_filters:
                    self._catching_up = True
                    client.subscribe([(t, 1) for t in self.catch_up_filters], properties=subscribe_props(_CATCH_UP))

        def on_subscribe(client: paho.Client, userdata: Any, mid: int, codes: Any, props: Any = None) -> None:
            if mid == self._live_mid:
                self.subscribed = True
            # the retained messages of a new subscription follow its SUBACK, before the UNSUBACK of this
            elif self._catching_up:
                self._catching_up = False
                client.unsubscribe(self.catch_up_filters)

        def on_disconnect(*_: Any) -> None:
            self.connected = self.subscribed = False

        def on_message(client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
            if self.catch_up_filters:
                ids = getattr(msg.properties, "SubscriptionIdentifier", None) or [_LIVE]
                if _LIVE not in ids:
                    if not msg.retain or msg.topic in self._seen:
                        return  # live traffic comes through the shared subscription; this one already came
                if msg.retain:
                    self._seen.add(msg.topic)
            if not msg.retain:
                self.last_live, self.silent = time.monotonic(), False
            if msg.payload:  # an empty retained message only clears a topic
                payload: bytes = msg.payload  # type: ignore[assignment]  # paho hands bytes
                loop.call_soon_threadsafe(self.handle, msg.topic, payload, bool(msg.retain))

        self.client.on_connect, self.client.on_disconnect = on_connect, on_disconnect
        self.client.on_message, self.client.on_subscribe = on_message, on_subscribe
        mqtt.start(self.client, self.broker)

    def stop(self) -> None:
        mqtt.stop(self.client)

    def problems(self) -> list[str]:
        out = [] if self.connected else [f"not connected to the broker at {self.broker.url}"]
        if self.silent:
            out.append(f"no live UNS message for {self.silence_s:g} s (feed_silence_s): reconnected and "
                       f"subscribed again ({self.silence_restarts} times so far)")
        return out

    async def watch_silence(self) -> None:
        """Mark the feed silent after `silence_s` without a live message, and reconnect (once per silence_s)."""
        if not self.silence_s:
            return
        while True:
            await asyncio.sleep(min(1.0, self.silence_s / 4))
            quiet = time.monotonic() - self.last_live
            if not self.connected or quiet < self.silence_s:
                continue
            self.silent = True
            self.silence_restarts += 1
            log.warning("no live UNS message for %.0f s: reconnecting to %s", quiet, self.broker.url)
            mqtt.reconnect(self.client)
            self.last_live = time.monotonic()

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """On the event loop, so the twin's state has a single writer; a retained value is old news, so it
        does not count towards the latency. While the gap before this connection is read from the historian,
        records are held back and applied after it."""
        self.messages += 1
        line = "/".join(topic.split("/", 4)[:4])
        self.messages_by_line[line if line in self._lines else OTHER_LINE] += 1
        try:
            record = decode(topic, payload)
        except PayloadError as exc:
            self._reject(topic, payload, exc)
            return
        if self.gate is not None and self.gate.holding:
            self.gate.hold(Held(topic, payload, retained, record))
            return
        self.ingest(topic, payload, retained, record)

    def ingest(self, topic: str, payload: bytes, retained: bool, record: Record) -> None:
        admission = self.gate.admit(record, retained) if self.gate is not None else Admission.APPLY
        if admission is Admission.SKIP:
            self.duplicates += 1
            return
        try:
            self.twin.apply(record, tell=admission is Admission.APPLY)
        except Rejected as exc:
            self._reject(topic, payload, exc)
            return
        if admission is Admission.APPLY and self.gate is not None:
            self.gate.applied(record)
        if isinstance(record, Sample) and not retained:
            self.latency.observe(max(0.0, time.time() - self.clock.wall_us_of(to_micros(record.ts)) / 1e6))

    def ingest_held(self, item: Held) -> None:
        self.ingest(item.topic, item.payload, item.retained, item.record)

    def _reject(self, topic: str, payload: bytes, exc: PayloadError | Rejected) -> None:
        self.rejected_counts[exc.reason] += 1
        self.rejected.append(RejectedMessage(time.time(), topic[:500], exc.reason, exc.field, exc.detail,
                                             payload[:2000].decode("utf-8", "replace")))
        _budget.warning(exc.reason, "rejected UNS message on %s: %s: %s", topic[:200], exc.field, exc.detail[:500],
                        extra={"asset": "/".join(topic.split("/")[:ASSET_DEPTH])[:200], "topic": topic[:200],
                               "reason": exc.reason, "field": exc.field})
