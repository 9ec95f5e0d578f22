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


@sink
class UnsSink(Sink):
    config_model = UnsSinkConfig
    config: UnsSinkConfig

    def __init__(self, config: UnsSinkConfig, ctx: PluginContext) -> None:
        super().__init__(config, ctx)
        self.client = mqtt.make_client(config.broker, config.client_id or f"{ctx.agent}-{config.name}")
        self._connected = asyncio.Event()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def on_connect(client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
            if not rc.is_failure:
                loop.call_soon_threadsafe(self._connected.set)

        def on_disconnect(*_: Any) -> None:
            loop.call_soon_threadsafe(self._connected.clear)

        self.client.on_connect, self.client.on_disconnect = on_connect, on_disconnect
        mqtt.start(self.client, self.config.broker)

    async def write(self, batch: Sequence[Record]) -> None:
        # While the broker is away, wait rather than fill paho's memory queue without bound.
        await asyncio.wait_for(self._connected.wait(), timeout=30)
        for record in batch:
            topic, payload = encode(record)
            info = self.client.publish(topic, payload, qos=self.config.qos, retain=self.config.retain)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                raise ConnectionError(f"publish to {topic} failed: {paho.error_string(info.rc)}")

    async def close(self) -> None:
        mqtt.stop(self.client)
