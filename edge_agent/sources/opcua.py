"""OPC-UA source: subscribe to a server's variables, found by browsing or listed in a reviewed tag file.

Sample config::

    - type: opcua
      name: line1-plc
      endpoint: opc.tcp://10.0.0.20:4840/
      root: acme                   # map every variable below Objects/acme (browse path, "/"-separated)
      object_types: ["nsu=urn:vendor:machines;s=CncType"]  # or: every instance of these ObjectTypes
      tags_file: line1-plc-tags.yaml   # or: the reviewed output of `factory-twin edge discover`
      publishing_interval_ms: 100  # how often the server sends queued changes
      sampling_interval_ms: 0      # default per tag (0: as fast as the server samples)
      queue_size: 1000             # default per tag: changes kept between two publishes
      deadband: {type: absolute, value: 0.5}   # default per tag; or {type: percent, value: 1}
      max_items_per_subscription: 1000         # servers limit these: more tags, more subscriptions
      max_subscriptions_per_connection: 10     # ... and more sessions
      keepalive_s: 5               # a subscription silent for 1.5x this is recreated
      security: {policy: Basic256Sha256, mode: SignAndEncrypt}  # None | Basic256Sha256 |
                                                                # Aes256_Sha256_RsaPss; Sign | SignAndEncrypt
      username: edge               # optional user token
      password_env: PLC_PASSWORD   # the environment variable holding its password, never the password

Without ``object_types``, every variable directly below an object becomes a signal of that object and
the object's browse path is the asset path, so a server laid out along ISA-95 needs no tag list at all.
Units come from each variable's EngineeringUnits (EUInformation). Every value carries its source and
server timestamps and its status code (severity as the sample's quality, the code itself beside it).

Connections use asyncua's own reconnect (backoff up to ``reconnect_max_s``, subscriptions restored).
On the way back the namespace table is read again: if the server renumbered its namespaces, every
subscription is recreated from the ``nsu=`` NodeIds. While asyncua retries, the server's endpoints are
read as well: a server that came back with another certificate (many make a new self-signed one when
their PKI folder is not kept) gets a new session from scratch. Without security that is all; with a
security policy the new certificate must be on the trust list first, so until the operator trusts it
(``factory-twin edge certs trust FINGERPRINT``, no restart needed) the source stays down and its
``last_error`` and ``untrusted_certificate`` (in ``edge status`` and the health JSON) name it. While a
connection is down its signals are not
left looking healthy: the last value of each is repeated once with quality bad (BadNoCommunication),
so the gap shows in the history and the twin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, Self

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import Subscription
from asyncua.crypto import security_policies
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from edge_agent.mapping import Mapper, MappingError
from edge_agent.plugins import PluginConfig, PluginContext, Source, SourceHealth, source
from edge_agent.sources.opcua_pki import TrustList, UntrustedCertificate, fingerprint, first_certificate
from edge_agent.sources.opcua_tags import Deadband, OpcUaTag, TagFile, browse, resolve
from plantmodel.config import load_config, relative_to_config
from plantmodel.telemetry import NO_COMMUNICATION, Quality, Sample, utc

log = logging.getLogger(__name__)

POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
#: Status of the repeated last value that marks a lost connection.
GAP_STATUS = NO_COMMUNICATION  # = ua.StatusCodes.BadNoCommunication


class OpcUaSecurity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    policy: Literal["None", "Basic256Sha256", "Aes256_Sha256_RsaPss"] = "None"
    mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"


class OpcUaSourceConfig(PluginConfig):
    type: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    root: str | None = Field(None, min_length=1, description="browse path below Objects to map")
    object_types: list[str] = Field([], description="NodeIds of ObjectTypes whose instances to map")
    tags: list[OpcUaTag] = Field([], description="tags listed inline, as in a tag file")
    tags_file: Path | None = Field(None, description="a tag file as `factory-twin edge discover` writes it")
    publishing_interval_ms: int = Field(100, ge=10)
    sampling_interval_ms: float = Field(0, ge=0)
    queue_size: int = Field(1000, ge=1)
    deadband: Deadband | None = None
    max_items_per_subscription: int = Field(1000, ge=1)
    max_subscriptions_per_connection: int = Field(10, ge=1)
    security: OpcUaSecurity = OpcUaSecurity()
    pki_dir: Path | None = Field(None, description="certificates and trust list; default <data_dir>/pki")
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the user's password")
    timeout_s: float = Field(10.0, gt=0)
    watchdog_s: float = Field(1.0, gt=0, description="how often a quiet connection is probed")
    keepalive_s: float = Field(5.0, gt=0, description="longest silence of a subscription; 1.5x this and it is "
                                                       "recreated")
    subscription_lifetime_s: float = Field(600.0, gt=0, description="how long the server keeps a subscription, "
                                                                    "and its queued changes, while we are away")
    reconnect_max_s: float = Field(30.0, gt=0)
    _file_tags: list[OpcUaTag] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        if not (self.root or self.object_types or self.tags or self.tags_file):
            raise ValueError("say what to read: root, object_types, tags or tags_file")
        if self.password_env and not self.username:
            raise ValueError("password_env needs a username")
        if self.tags_file is not None:  # a broken tag file stops start-up, naming its own file and line
            self._file_tags = load_config(relative_to_config(self.tags_file, info), TagFile).tags
        return self

    def configured_tags(self) -> list[OpcUaTag]:
        return [*self.tags, *self._file_tags]


class MissingSecret(Exception):
    pass


class ServerCertificateChanged(ConnectionError):
    """The server now presents another certificate than the one the session was made with."""


@source
class OpcUaSource(Source):
    config_model = OpcUaSourceConfig
    config: OpcUaSourceConfig

    def __init__(self, config: OpcUaSourceConfig, ctx: PluginContext) -> None:
        super().__init__(config, ctx)
        self.tags: list[OpcUaTag] = []
        self.connections: list[OpcUaConnection] = []
        self.untrusted_certificate: str | None = None  # SHA-256 of a server certificate refused, until trusted
        self.application_uri = f"urn:{socket.gethostname()}:factory-twin:edge"  # one per PKI, as in its cert
        self.trust_list = TrustList(config.pki_dir or ctx.data_dir / "pki")

    def health(self) -> SourceHealth:
        return replace(super().health(), untrusted_certificate=self.untrusted_certificate)

    async def run(self) -> None:
        backoff = 1.0
        while not self.tags:
            try:
                self.tags = await self.tag_list()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failed(exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.config.reconnect_max_s)
        per_sub, per_conn = self.config.max_items_per_subscription, self.config.max_subscriptions_per_connection
        chunk = per_sub * per_conn
        self.connections = [OpcUaConnection(self, i // chunk, self.tags[i:i + chunk])
                            for i in range(0, len(self.tags), chunk)]
        log.info("%s: %d variables in %d connection(s) to %s", self.config.name, len(self.tags),
                 len(self.connections), self.config.endpoint)
        tasks = [asyncio.create_task(c.run(), name=f"{self.config.name}#{c.index}") for c in self.connections]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def tag_list(self) -> list[OpcUaTag]:
        """Configured tags first, then whatever browsing finds (a configured node wins over a browsed one). One
        node may feed several signals (a state machine's state as the twin's state and as text)."""
        tags = {_key(t): t for t in self.config.configured_tags()}
        configured = {t.node for t in tags.values()}
        if self.config.root or self.config.object_types:
            client = await self.open_client(auto_reconnect=False)
            async with client:
                for tag in await browse(client, self.config.root, self.config.object_types):
                    if tag.node not in configured:
                        tags.setdefault(_key(tag), tag)
        if not tags:
            raise LookupError(f"no variables found below {self.config.root or 'Objects'}")
        return list(tags.values())

    async def open_client(self, auto_reconnect: bool = True) -> Client:
        """A client with this source's security, identity and reconnect settings, not yet connected."""
        cfg = self.config
        client = Client(cfg.endpoint, timeout=cfg.timeout_s, watchdog_intervall=cfg.watchdog_s,
                        auto_reconnect=auto_reconnect, reconnect_max_delay=cfg.reconnect_max_s)
        client.application_uri = self.application_uri
        client.name = client.description = f"factory-twin edge {self.ctx.agent}"
        if cfg.username:
            client.set_user(cfg.username)
            if cfg.password_env:
                password = os.environ.get(cfg.password_env)
                if password is None:
                    raise MissingSecret(f"environment variable {cfg.password_env} (password of OPC-UA user "
                                        f"{cfg.username!r}) is not set")
                client.set_password(password)
        if cfg.security.policy != "None":
            policy, mode = POLICIES[cfg.security.policy], getattr(ua.MessageSecurityMode, cfg.security.mode)
            cert, key = await self.trust_list.own_certificate(self.application_uri, client.name)
            probe = Client(cfg.endpoint, timeout=cfg.timeout_s)
            endpoints = await probe.connect_and_get_server_endpoints()
            try:
                endpoint = Client.find_endpoint(endpoints, mode, policy.URI)
            except ua.UaError:
                offered = sorted({f"{e.SecurityPolicyUri.rpartition('#')[2]}/{e.SecurityMode.name}" for e in endpoints})
                raise ConnectionError(f"{cfg.endpoint} offers no {cfg.security.policy}/{cfg.security.mode} endpoint"
                                      f" (it offers {', '.join(offered)})") from None
            server_cert = self.trust_list.check(endpoint.ServerCertificate, cfg.endpoint)
            await client.set_security(policy, str(cert), str(key), server_certificate=server_cert.public_bytes(
                Encoding.DER), mode=mode)
            client.certificate_validator = self.trust_list.validate
        return client

    async def server_certificate(self) -> bytes | None:
        """The certificate the server presents now (GetEndpoints, no session needed); None if unreachable."""
        probe = Client(self.config.endpoint, timeout=min(self.config.timeout_s, 5.0))
        try:
            endpoints = await probe.connect_and_get_server_endpoints()
        except Exception:  # down, restarting, refusing: asyncua's reconnect reports those
            return None
        return next((e.ServerCertificate for e in endpoints if e.ServerCertificate), None)

    def failed(self, exc: BaseException, retry_s: float) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, UntrustedCertificate):
            self.untrusted_certificate = exc.fingerprint
        log.warning("%s: OPC-UA %s: %s; retrying in %.0f s", self.config.name, self.config.endpoint,
                    self.last_error, retry_s)

    def changed(self) -> None:
        """A connection went up or down: the source is connected when all of them are."""
        self.connected = bool(self.connections) and all(c.live for c in self.connections)
        if self.connected:
            self.last_error = self.untrusted_certificate = None
        if all(c.subscribed for c in self.connections):
            self.ready.set()


class OpcUaConnection:
    """One session carrying a slice of the source's tags in as many subscriptions as the limit needs."""

    def __init__(self, owner: OpcUaSource, index: int, tags: list[OpcUaTag]) -> None:
        self.owner, self.index, self.tags = owner, index, tags
        self.config = owner.config
        self.live = False
        self.subscribed = False  # at least once: from then on no change is missed while connected
        self.gaps = 0
        self.by_handle: dict[int, OpcUaTag] = {}
        self.mappers: dict[tuple[str, str, str], Mapper] = {_key(t): Mapper(t.map, t.unit) for t in tags}
        self.last: dict[tuple[str, str], Sample] = {}  # last sample per series, repeated as bad when the
        self.last_raw: dict[tuple[str, str, str], Any] = {}  # connection drops; tag -> last raw value (a bad
        # value without a value repeats it)
        self.subscriptions: list[Subscription] = []
        self.namespaces: list[str] = []
        self._handle = 0
        self._pending: list[Sample] = []
        self._next_probe = 0.0

    async def run(self) -> None:
        backoff = 1.0
        while True:
            client: Client | None = None
            try:
                client = await self.owner.open_client()
                client.connection_lost_callback = self._lost
                await client.connect()
                backoff = 1.0
                await self._subscribe(client)
                await self._follow(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._gap()
                self.owner.failed(exc, backoff)
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.disconnect(), self.config.timeout_s)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    async def _subscribe(self, client: Client) -> None:
        """Create this connection's subscriptions with NodeIds resolved against today's namespace table."""
        for sub in self.subscriptions:
            with contextlib.suppress(Exception):
                await sub.delete()
        self.subscriptions, self.by_handle = [], {}
        self.namespaces = await client.get_namespace_array()
        if any(t.map is not None and t.map.field for t in self.tags):
            await _load_structures(client, self.config.name)
        size = self.config.max_items_per_subscription
        failed: list[str] = []
        for start in range(0, len(self.tags), size):
            sub = await client.create_subscription(self._parameters(), self)
            self.subscriptions.append(sub)
            requests, tags = [], []
            for tag in self.tags[start:start + size]:
                try:
                    requests.append(self._request(resolve(tag.node, self.namespaces), tag))
                    tags.append(tag)
                except (LookupError, ValueError) as exc:
                    failed.append(f"{tag.node}: {exc}")
            results = await sub.create_monitored_items(requests) if requests else []
            for request, tag, result in zip(requests, tags, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    failed.append(f"{tag.node}: {result.name}")
                else:
                    self.by_handle[request.RequestedParameters.ClientHandle] = tag
        if failed:
            log.warning("%s: %d of %d variables cannot be monitored: %s", self.config.name, len(failed),
                        len(self.tags), "; ".join(failed[:5]) + (" ..." if len(failed) > 5 else ""))
        self.live = self.subscribed = True
        self.owner.changed()

    def _parameters(self) -> ua.CreateSubscriptionParameters:
        """An explicit keep-alive: asyncua's default (75 % of the session timeout) lets its watchdog take
        minutes to notice a subscription lost on the server, e.g. in a reconnect race."""
        interval = self.config.publishing_interval_ms
        keepalive = max(1, math.ceil(self.config.keepalive_s * 1000 / interval))
        lifetime = max(3 * keepalive, math.ceil(self.config.subscription_lifetime_s * 1000 / interval))
        return ua.CreateSubscriptionParameters(RequestedPublishingInterval=interval, RequestedLifetimeCount=lifetime,
                                               RequestedMaxKeepAliveCount=keepalive, MaxNotificationsPerPublish=0,
                                               PublishingEnabled=True, Priority=0)

    def _request(self, nodeid: ua.NodeId, tag: OpcUaTag) -> ua.MonitoredItemCreateRequest:
        self._handle += 1
        deadband = tag.deadband or self.config.deadband
        params = ua.MonitoringParameters(
            ClientHandle=self._handle,
            SamplingInterval=tag.sampling_interval_ms if tag.sampling_interval_ms is not None
            else self.config.sampling_interval_ms,
            QueueSize=tag.queue_size or self.config.queue_size,
            DiscardOldest=True,
            Filter=deadband.filter() if deadband else None,
        )
        item = ua.ReadValueId(NodeId=nodeid, AttributeId=ua.AttributeIds.Value)
        return ua.MonitoredItemCreateRequest(ItemToMonitor=item, MonitoringMode=ua.MonitoringMode.Reporting,
                                             RequestedParameters=params)

    async def _follow(self, client: Client) -> None:
        """Track asyncua's reconnects; after each, resubscribe if the server renumbered its namespaces.

        While asyncua retries, check the server's certificate: asyncua keeps the one of the first session
        and retries forever against a server that has a new one ("Server certificate mismatch"), so a
        change ends this client and `run` starts over with a new session (and the trust list).
        """
        known = client.security_policy.peer_certificate
        async with client.subscribe_state() as states:
            while True:
                try:
                    state = await states.next_change(
                        None if client.state is UaClientState.CONNECTED else self.config.watchdog_s)
                except TimeoutError:
                    if client.state is UaClientState.CONNECTED:
                        continue  # the change to CONNECTED is queued: handled next
                    state = client.state
                if state is not UaClientState.CONNECTED:
                    self._gap()
                    await self._certificate_unchanged(known)
                    continue
                namespaces = await client.get_namespace_array()
                if any(resolve_index(t.node, namespaces) != resolve_index(t.node, self.namespaces)
                       for t in self.tags):
                    log.warning("%s: the server renumbered its namespaces; subscribing again", self.config.name)
                    await self._restored(client)
                    await self._subscribe(client)
                else:  # asyncua restored the subscriptions with the same NodeIds
                    self.live = True
                    self.owner.changed()
                log.info("%s: reconnected to %s", self.config.name, self.config.endpoint)

    async def _certificate_unchanged(self, known: bytes | None) -> None:
        """Raise ServerCertificateChanged if the server presents another certificate (probed once a second)."""
        now = asyncio.get_running_loop().time()
        if known is None or now < self._next_probe:
            return
        self._next_probe = now + max(1.0, self.config.watchdog_s)
        presented = await self.owner.server_certificate()
        if presented is None:
            return
        new, old = fingerprint(first_certificate(presented)), fingerprint(first_certificate(known))
        if new != old:
            raise ServerCertificateChanged(
                f"{self.config.endpoint} presents a new certificate (SHA-256 {new}, was {old[:16]}...); "
                f"starting a new session")

    async def _restored(self, client: Client, timeout_s: float = 5.0) -> None:
        """Let asyncua finish restoring the old subscriptions before they are replaced."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while any(s.subscription_id is None for s in self.subscriptions if not s.is_deleted):
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.05)

    async def _lost(self, exc: Exception) -> None:
        log.warning("%s: connection to %s lost: %r", self.config.name, self.config.endpoint, exc)
        self._gap()

    def _gap(self) -> None:
        """Repeat each signal's last value once with quality bad, so no one takes silence for a steady value."""
        if not self.live:
            return
        self.live = False
        self.gaps += 1
        self.owner.changed()
        now = self.owner.ctx.clock.now()
        marks = [Sample(s.asset, s.signal, s.value, s.unit, max(now, s.ts), Quality.BAD, GAP_STATUS)
                 for s in self.last.values()]
        if marks:
            self.owner.ctx.emit(marks, source=self.owner.config.name)

    # asyncua subscription handler interface
    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        item: ua.MonitoredItemNotification = data.monitored_item
        tag = self.by_handle.get(item.ClientHandle)
        if tag is None:
            return
        dv: ua.DataValue = item.Value
        status = dv.StatusCode.value if dv.StatusCode is not None else 0
        quality = quality_of(dv.StatusCode)
        ts = dv.SourceTimestamp or dv.ServerTimestamp
        server_ts = utc(dv.ServerTimestamp) if dv.ServerTimestamp else None
        name = self.config.name
        if dv.StatusCode is not None and dv.StatusCode.value == ua.StatusCodes.BadStateNotActive:
            return  # a sub-state machine that is not active says nothing: its parent's state is the state
        key = _key(tag)
        if val is None and quality is not Quality.GOOD and key in self.last_raw and ts is not None:
            val = self.last_raw[key]  # a bad value without a value: the signal keeps its last one, as bad
        if val is None or ts is None:
            reason = "no_timestamp" if ts is None else "no_value"
            self.owner.ctx.quarantine.reject(name, reason, f"{tag.asset}/{tag.signal}",
                                             f"cannot store value {val!r:.80} (status {dv.StatusCode})", tag.node)
            return
        try:
            mapped = self.mappers[key].apply(val)
        except MappingError as exc:
            self.owner.ctx.quarantine.reject(name, exc.reason, f"{tag.asset}/{tag.signal}", exc.detail, tag.node)
            return
        self.last_raw[key] = val
        when = utc(ts)
        for m in mapped:
            q = quality if m.quality is None or quality is not Quality.GOOD else m.quality
            sample = Sample(tag.asset, tag.signal + m.suffix, m.value, m.unit, when, q, status, server_ts)
            self.last[(sample.asset, sample.signal)] = sample
            self._pending.append(sample)
        if tag.map is not None and tag.map.counter is not None and tag.map.counter.rollover is not None:
            self.owner.ctx.rollovers[(tag.asset, tag.signal)] = tag.map.counter.rollover
        if self._pending and len(self._pending) == len(mapped):  # one emit per notification message
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self.owner.ctx.emit(batch, source=self.owner.config.name)

    def status_change_notification(self, status: Any) -> None:
        log.warning("%s: subscription status changed: %s", self.config.name, status)


async def _load_structures(client: Client, name: str) -> None:
    """Teach the client the server's structured data types, so a `field` of a structure can be read (PackML's
    count arrays); a server that cannot describe them leaves such values refused, with the reason."""
    try:
        await client.load_data_type_definitions()
    except Exception as exc:  # asyncua raises many kinds here; the plain values still flow
        log.warning("%s: cannot load the server's data type definitions: %s", name, exc)


def _key(tag: OpcUaTag) -> tuple[str, str, str]:
    return tag.node, tag.asset, tag.signal


def quality_of(status: ua.StatusCode | None) -> Quality:
    severity = (status.value >> 30) if status is not None else 0  # Part 4, 7.39: top two bits
    return Quality.GOOD if severity == 0 else Quality.UNCERTAIN if severity == 1 else Quality.BAD


def resolve_index(node: str, namespaces: list[str]) -> int | None:
    try:
        return resolve(node, namespaces).NamespaceIndex
    except (LookupError, ValueError):
        return None
