"""Broker settings shared by every MQTT client in the system, and the one way to build a client.

The same client code talks to the embedded demo broker and to mosquitto or any MQTT 3.1.1/5 broker.
Passwords come from an environment variable named in the config, never from the YAML itself.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import ssl
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field


class BrokerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the password")
    tls: bool = False
    ca_file: str | None = Field(None, description="CA bundle to verify the broker by; default: the system's")
    cert_file: str | None = Field(None, description="client certificate (PEM), for brokers that require one")
    key_file: str | None = Field(None, description="the client certificate's private key (PEM)")
    keepalive_s: int = Field(30, ge=5)
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    reconnect_min_s: float = Field(0.2, gt=0, le=60, description="first wait before reconnecting; doubled per "
                                   "failed attempt up to reconnect_max_s, back to this once connected")
    reconnect_max_s: float = Field(2.0, gt=0, le=300, description="longest wait between reconnection attempts: a "
                                   "broker that returns is found again within this")

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def make_client(cfg: BrokerConfig, client_id: str, *, clean_session: bool = True) -> mqtt.Client:
    """A paho client that reconnects by itself once `loop_start` runs: after 0.2 s, doubling to 2 s between
    attempts (`reconnect_min_s`, `reconnect_max_s`), so a broker that comes back is used again within seconds."""
    v5 = cfg.protocol == "5"
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else clean_session,
    )
    if cfg.username:
        password = os.environ.get(cfg.password_env) if cfg.password_env else None
        if cfg.password_env and password is None:
            raise ValueError(f"environment variable {cfg.password_env} (MQTT password of {cfg.username!r}) is not set")
        client.username_pw_set(cfg.username, password)
    if cfg.tls:
        client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file,
                       cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
    client.max_queued_messages_set(0)  # paho's queue is unbounded; callers bound their own
    return client


def start(client: mqtt.Client, cfg: BrokerConfig, session_expiry_s: int | None = None) -> None:
    """Connect in the background; with MQTT 5 and `session_expiry_s` the broker keeps our session that long."""
    if cfg.protocol == "5" and session_expiry_s is not None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=False, properties=props)
    else:
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
    client.loop_start()


def stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def reconnect(client: mqtt.Client) -> None:
    """Drop the connection under a running client: its network loop notices and reconnects by itself (with the
    same session settings), and its on_connect subscribes again."""
    sock = client.socket()
    if isinstance(sock, socket.socket):  # TCP or TLS (a WebSocket transport has no shutdown)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def unique_client_id(base: str) -> str:
    """`base` with a random suffix: a client with a clean session, one id per running instance, so a second
    instance (or anyone who guesses the name) cannot take over its connection and subscriptions."""
    return f"{base}-{secrets.token_hex(4)}"
