"""An MQTT broker inside the demo process (amqtt), so the demo needs no broker installed.

Like the compose stack's mosquitto, it takes no anonymous clients: each part logs in as its own user, and an
access list says who may publish and subscribe where (the edge agent writes the unified namespace, the twin
only reads it, the line's devices write their own topics). Production and tests use mosquitto or any other
broker; clients cannot tell the difference.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from amqtt.broker import Broker
from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session


@dataclass(frozen=True)
class Rights:
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()


#: the compose stack's configs/mosquitto/acl, plus the demo's simulated devices
DEMO_ACL: dict[str, Rights] = {
    "edge": Rights(publish=("acme/#", "factory-twin/edge/#"), subscribe=("acme/#", "uagv/#")),
    "twin": Rights(subscribe=("acme/#", "$share/+/acme/#")),
    "device": Rights(publish=("uagv/#",)),
}


def demo_passwords(environ: Mapping[str, str]) -> dict[str, str]:
    """user -> password: from FT_MQTT_<USER>_PASSWORD where set, else a new random one."""
    return {user: environ.get(password_var(user)) or secrets.token_urlsafe(18) for user in DEMO_ACL}


def password_var(user: str) -> str:
    return f"FT_MQTT_{user.upper()}_PASSWORD"


def allows(pattern: str, requested: str) -> bool:
    """Whether every topic `requested` (a topic or a filter) can name also matches `pattern`."""
    want, have = requested.split("/"), pattern.split("/")
    for i, level in enumerate(want):
        if i >= len(have):
            return False
        if have[i] == "#":
            return True
        if level == "#" or (level == "+" and have[i] != "+") or (have[i] not in ("+", level)):
            return False
    return len(have) == len(want) or (len(have) == len(want) + 1 and have[-1] == "#")


class PasswordAuth(BaseAuthPlugin):
    """Users and passwords held in memory, compared in constant time; no anonymous clients."""

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool | None:
        expected = self.config.users.get(session.username or "")
        return expected is not None and hmac.compare_digest(expected.encode(), (session.password or "").encode())


class TopicRights(BaseTopicPlugin):
    """Per user: topics it may publish to and filters it may subscribe to; everything else is refused."""

    @dataclass
    class Config:
        publish: dict[str, list[str]] = field(default_factory=dict)
        subscribe: dict[str, list[str]] = field(default_factory=dict)

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.refused = 0

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool | None:
        if action == Action.RECEIVE:
            return True  # what a client may read was decided when it subscribed
        user = session.username if session else None
        rights = (self.config.publish if action == Action.PUBLISH else self.config.subscribe).get(user or "", [])
        ok = topic is not None and any(allows(p, topic) for p in rights)
        if not ok:
            self.refused += 1
        return ok


@asynccontextmanager
async def embedded_broker(host: str, port: int, passwords: Mapping[str, str],
                          acl: Mapping[str, Rights] = DEMO_ACL) -> AsyncIterator[Broker]:
    """A broker on host:port for the users in `passwords`, with the rights in `acl`."""
    # amqtt logs every connection at INFO, and each late PUBACK with a traceback when overloaded
    # (above about a thousand messages a second here: use mosquitto for more).
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            f"{__name__}.PasswordAuth": {"users": dict(passwords)},
            f"{__name__}.TopicRights": {"publish": {u: list(r.publish) for u, r in acl.items()},
                                         "subscribe": {u: list(r.subscribe) for u, r in acl.items()}},
        },
    })
    await broker.start()
    try:
        yield broker
    finally:
        await broker.shutdown()
