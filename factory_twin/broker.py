"""An MQTT broker inside the demo process (amqtt), so the demo needs no broker installed.

Production and tests use mosquitto or any other broker; clients cannot tell the difference.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from amqtt.broker import Broker


@asynccontextmanager
async def embedded_broker(host: str, port: int) -> AsyncIterator[Broker]:
    # amqtt logs every connection at INFO, and each late PUBACK with a traceback when overloaded
    # (above about a thousand messages a second here: use mosquitto for more).
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    await broker.start()
    try:
        yield broker
    finally:
        await broker.shutdown()
