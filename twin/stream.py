"""Feeds the twin from the MQTT unified namespace; bad messages are counted and kept, never fatal."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho

from plantmodel import mqtt
from plantmodel.uns import PayloadError, decode
from twin.state import PlantTwin, Rejected

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    received_at: float
    topic: str
    reason: str
    field: str
    detail: str
    payload: str


class UnsFeed:
    def __init__(self, twin: PlantTwin, broker: mqtt.BrokerConfig, topics: list[str], client_id: str,
                 keep: int = 1000) -> None:
        self.twin, self.broker, self.topics = twin, broker, topics
        self.client = mqtt.make_client(broker, client_id)
        self.connected = False
        self.messages = 0
        self.rejected_counts: Counter[str] = Counter()
        self.rejected: deque[RejectedMessage] = deque(maxlen=keep)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_connect(client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
            if not rc.is_failure:
                self.connected = True
                client.subscribe([(t, 1) for t in self.topics])

        def on_disconnect(*_: Any) -> None:
            self.connected = False

        def on_message(client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
            if msg.payload:  # an empty retained message only clears a topic
                loop.call_soon_threadsafe(self.handle, msg.topic, msg.payload)

        self.client.on_connect, self.client.on_disconnect = on_connect, on_disconnect
        self.client.on_message = on_message
        mqtt.start(self.client, self.broker)

    def stop(self) -> None:
        mqtt.stop(self.client)

    def handle(self, topic: str, payload: bytes) -> None:
        """On the event loop, so the twin's state has a single writer."""
        self.messages += 1
        try:
            self.twin.apply(decode(topic, payload))
        except (PayloadError, Rejected) as exc:
            self.rejected_counts[exc.reason] += 1
            self.rejected.append(RejectedMessage(time.time(), topic, exc.reason, exc.field, exc.detail,
                                                 payload[:2000].decode("utf-8", "replace")))
            log.warning("rejected UNS message on %s: %s: %s", topic, exc.field, exc.detail)
