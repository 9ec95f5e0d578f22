"""An MQTT 5 session on the agent's event loop that takes messages in batches and acknowledges what was committed.

Why not paho here: paho reads each packet with several system calls in its own thread and sends each
acknowledgement on its own, about 30 µs of CPU a message, so one agent process topped out near 10,000 QoS 1
messages/s. Here the packet bytes are read and written by `mqtt5` (sans-I/O, in Rust) and everything else runs
on the event loop: every read from the socket is parsed whole, its messages go to `on_batch` together, and their
PUBACKs (QoS 2: PUBRECs) leave in one write once the caller's `ack` runs, that is once what they held is durable.

The session's Receive Maximum (MQTT 5, 3.1.2.11.3) tells the broker how many messages it may send ahead of
their acknowledgements; with acknowledgements that wait for a commit, a broker's own window (mosquitto's
`max_inflight_messages`, 20) would allow only 20 messages per commit. The broker's queue for a slow client
(`max_queued_messages`) still applies beyond that.

The session reconnects by itself (1 s doubling to 30 s), subscribes again on every connection, sends PINGREQ
every half keep-alive and drops a connection that says nothing for one and a half. An acknowledgement due on a
connection that has gone is not sent: the broker sends the message again on the next one (a persistent
session), which the spool may then hold twice: delivery across a lost connection is at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from collections.abc import Callable
from typing import Any

import mqtt5

from plantmodel.mqtt import BrokerConfig

log = logging.getLogger(__name__)

Message = tuple[str, bytes, int]  # topic, payload, qos
Ack = Callable[[], None]
OnBatch = Callable[[list[Message], Ack], None]
_PUBLISH, _PUBREL = mqtt5.PublishPacket, mqtt5.PubRelPacket


class SessionRefused(Exception):
    """The broker refused the connection or a subscription; the reason is the broker's."""


class _Connection(asyncio.Protocol):
    def __init__(self, session: Session) -> None:
        self.session = session
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.replies: dict[type, asyncio.Future[Any]] = {}
        self.closed: asyncio.Future[str] = loop.create_future()
        self.last_in = self.last_out = time.monotonic()
        self.awaiting_release = session.awaiting_release

    def expect(self, kind: type) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.replies[kind] = fut
        return fut

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(f"connection lost: {exc}" if exc else "connection closed")
        for fut in self.replies.values():
            if not fut.done():
                fut.set_exception(ConnectionError("connection lost"))

    def write(self, data: bytes) -> bool:
        t = self.transport
        if t is None or t.is_closing():
            return False
        t.write(data)
        self.last_out = time.monotonic()
        return True

    def close(self, why: str) -> None:
        if not self.closed.done():
            self.closed.set_result(why)
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.last_in = time.monotonic()
        buf = self.buffer
        buf += data
        batch: list[Message] = []
        acks: list[bytes] = []
        view = memoryview(buf)
        offset, size = 0, len(buf)
        try:
            while offset < size:
                try:
                    packet, used = mqtt5.read(view[offset:])
                except IndexError:  # a packet not yet whole
                    break
                offset += used
                if type(packet) is _PUBLISH:
                    qos, packet_id = packet.qos, packet.packet_id or 0  # 0 only at QoS 0, never acknowledged
                    if qos == 1:
                        acks.append(mqtt5.PubAckPacket(packet_id).write())
                    elif qos == 2:
                        acks.append(mqtt5.PubRecPacket(packet_id).write())
                        if packet_id in self.awaiting_release:
                            continue  # sent again before we acknowledged it: delivered once already
                        self.awaiting_release.add(packet_id)
                    batch.append((packet.topic, packet.payload, int(qos)))
                elif type(packet) is _PUBREL:
                    self.awaiting_release.discard(packet.packet_id)
                    self.write(mqtt5.PubCompPacket(packet.packet_id).write())
                else:
                    self._control(packet)
        except ValueError as exc:  # a malformed packet: nothing after it can be trusted
            log.error("malformed packet from %s: %s; reconnecting", self.session.cfg.url, exc)
            offset = size
            self.close(f"malformed packet: {exc}")
        finally:
            view.release()
            del buf[:offset]
        if batch or acks:
            payload = b"".join(acks)
            self.session.on_batch(batch, (lambda: (self.write(payload), None)[1]) if payload else _nothing)

    def _control(self, packet: Any) -> None:
        kind = type(packet)
        if kind is mqtt5.DisconnectPacket:
            self.close(f"the broker disconnected us: {packet.reason_code.name}"
                       + (f" ({packet.reason_str})" if packet.reason_str else ""))
            return
        fut = self.replies.pop(kind, None)
        if fut is not None and not fut.done():
            fut.set_result(packet)


def _nothing() -> None:
    return None


class Session:
    """One MQTT 5 client session: connect, subscribe, hand batches over, acknowledge when told; until cancelled."""

    def __init__(self, cfg: BrokerConfig, client_id: str, filters: list[tuple[str, int]], on_batch: OnBatch, *,
                 clean_start: bool = False, session_expiry_s: int = 0, receive_max: int = 5000,
                 on_state: Callable[[bool, str | None], None] | None = None) -> None:
        self.cfg, self.client_id, self.filters = cfg, client_id, filters
        self.on_batch, self.on_state = on_batch, on_state or (lambda up, why: None)
        self.clean_start, self.session_expiry_s, self.receive_max = clean_start, session_expiry_s, receive_max
        self.connection: _Connection | None = None
        self.subscribed = asyncio.Event()
        self.awaiting_release: set[int] = set()  # QoS 2 ids delivered and not yet released (the session's state)

    def drop(self, why: str) -> None:
        """End the current connection; the session connects and subscribes again by itself."""
        if self.connection is not None:
            self.connection.close(why)

    async def run(self) -> None:
        backoff = 1.0
        while True:
            why: str
            try:
                why = await self._connected()
                backoff = 1.0
            except (OSError, ConnectionError, TimeoutError, SessionRefused) as exc:
                why = str(exc) if isinstance(exc, SessionRefused) else f"cannot connect to {self.cfg.url}: {exc!r}"
            except Exception as exc:  # a bug must not end the session: say so, and connect again
                log.exception("MQTT session with %s failed", self.cfg.url)
                why = f"{type(exc).__name__}: {exc}"
            finally:
                self.subscribed.clear()
                if self.connection is not None and self.connection.transport is not None:
                    self.connection.transport.close()
                self.connection = None
            self.on_state(False, why)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _connected(self) -> str:
        """One connection, from CONNECT to its end; returns why it ended."""
        loop = asyncio.get_running_loop()
        conn = _Connection(self)
        self.connection = conn
        tls = _tls(self.cfg) if self.cfg.tls else None
        await asyncio.wait_for(loop.create_connection(lambda: conn, self.cfg.host, self.cfg.port, ssl=tls), 10)
        password = os.environ.get(self.cfg.password_env) if self.cfg.password_env else None
        connack = conn.expect(mqtt5.ConnAckPacket)
        conn.write(mqtt5.ConnectPacket(
            self.client_id, username=self.cfg.username, password=password.encode() if password else None,
            clean_start=self.clean_start, keep_alive=self.cfg.keepalive_s,
            session_expiry_interval=self.session_expiry_s, receive_max=self.receive_max).write())
        ack = await asyncio.wait_for(connack, 10)
        if ack.reason_code != mqtt5.ConnAckReasonCode.SUCCESS:
            raise SessionRefused(f"{self.cfg.url} refused the connection: {ack.reason_code.name}")
        suback = conn.expect(mqtt5.SubAckPacket)
        conn.write(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter(f, max_qos=mqtt5.QoS(q))
                                             for f, q in self.filters]).write())
        granted = await asyncio.wait_for(suback, 10)
        refused = [f for (f, _), code in zip(self.filters, granted.reason_codes, strict=False)
                   if int(code.value) >= 0x80]
        if refused:
            raise SessionRefused(f"{self.cfg.url} refused the subscriptions {refused}")
        self.subscribed.set()
        self.on_state(True, None)
        keepalive = asyncio.create_task(self._keepalive(conn))
        try:
            return await conn.closed
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive

    async def _keepalive(self, conn: _Connection) -> None:
        every = self.cfg.keepalive_s / 2
        ping = mqtt5.PingReqPacket().write()
        while True:
            await asyncio.sleep(every)
            if time.monotonic() - conn.last_in > self.cfg.keepalive_s * 1.5:
                conn.close(f"no word from {self.cfg.url} for {self.cfg.keepalive_s * 1.5:.0f} s")
                return
            conn.write(ping)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.write(mqtt5.DisconnectPacket().write())
            self.connection.close("closed")


def _tls(cfg: BrokerConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cfg.ca_file)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    return ctx
