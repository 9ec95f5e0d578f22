"""Unified-namespace sink: republish every record on MQTT under its ISA-95 path (see `plantmodel.uns`).

Sample config::

    - type: uns
      name: uns
      broker: {host: 10.0.0.5, port: 1883}
      qos: 1
      retain: true     # a new subscriber gets every signal's latest value at once
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

import paho.mqtt.client as paho
from pydantic import Field

from edge_agent.plugins import PluginConfig, PluginContext, Sink, sink
from plantmodel import mqtt
from plantmodel.telemetry import Record
from plantmodel.uns import encode


class UnsSinkConfig(PluginConfig):
    type: Literal["uns"]
    broker: mqtt.BrokerConfig = mqtt.BrokerConfig()
    qos: Literal[0, 1, 2] = 1
    retain: bool = True
    client_id: str | None = None
    timeout_s: float = Field(10.0, gt=0, description="wait this long for the broker (connection, acks) before "
                             "the batch counts as failed and is retried")


@sink
class UnsSink(Sink):
    config_model = UnsSinkConfig
    config: UnsSinkConfig

    def __init__(self, config: UnsSinkConfig, ctx: PluginContext) -> None:
        super().__init__(config, ctx)
        self.client = mqtt.make_client(config.broker, config.client_id or ctx.client_id(config.name))
        self.client.max_inflight_messages_set(1000)  # a batch in flight at once; the default 20 throttles
        self._connected = asyncio.Event()
        self.reconnected = asyncio.Event()
        self._unacked: set[int] = set()
        self._all_acked = asyncio.Event()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def on_connect(client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
            if not rc.is_failure:
                loop.call_soon_threadsafe(self._connected.set)
                loop.call_soon_threadsafe(self.reconnected.set)  # type: ignore[union-attr]

        def on_disconnect(*_: Any) -> None:
            loop.call_soon_threadsafe(self._connected.clear)

        def on_publish(client: paho.Client, userdata: Any, mid: int, rc: Any, props: Any = None) -> None:
            loop.call_soon_threadsafe(self._acked, mid)

        self.client.on_connect, self.client.on_disconnect = on_connect, on_disconnect
        self.client.on_publish = on_publish
        mqtt.start(self.client, self.config.broker)

    def _acked(self, mid: int) -> None:
        self._unacked.discard(mid)
        if not self._unacked:
            self._all_acked.set()

    async def write(self, batch: Sequence[Record]) -> None:
        """Returns once the broker acknowledged the whole batch (QoS 1/2), so paho never holds more than
        one batch: a slow broker slows this sink down instead of filling memory."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout=self.config.timeout_s)
        except TimeoutError:
            raise ConnectionError(f"not connected to {self.config.broker.url} after {self.config.timeout_s:g} s"
                                  ) from None
        self._unacked.clear()
        self._all_acked.clear()
        for record in batch:
            topic, payload = encode(record)
            info = self.client.publish(topic, payload, qos=self.config.qos, retain=self.config.retain)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                raise ConnectionError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
            self._unacked.add(info.mid)  # on_publish runs on the loop only after this method yields
        if self._unacked:
            try:
                await asyncio.wait_for(self._all_acked.wait(), timeout=self.config.timeout_s)
            except TimeoutError:
                raise ConnectionError(f"{len(self._unacked)} of {len(batch)} messages not acknowledged by "
                                      f"{self.config.broker.url} within {self.config.timeout_s:g} s") from None

    async def close(self) -> None:
        mqtt.stop(self.client)
