"""OPC-UA source: browse a server below one object or folder and subscribe to every variable.

Sample config::

    - type: opcua
      name: line1-plc
      endpoint: opc.tcp://10.0.0.20:4840/
      root: acme                  # browse name of an object or folder under Objects
      publishing_interval_ms: 100 # how often the server sends queued changes
      queue_size: 1000            # changes kept per variable between two publishes

Every variable directly below an object becomes a signal of that object; the object's browse path
from the root (``acme/plant1/.../cnc-1``) is the asset path, so a server laid out along ISA-95 needs
no tag list at all. The unit comes from the variable's EngineeringUnits property. The source
timestamp and the status code (as quality) travel with every value.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal

from asyncua import Client, Node, ua
from pydantic import Field

from edge_agent.plugins import PluginConfig, PluginContext, Source, source
from plantmodel.telemetry import Quality, Sample, utc

log = logging.getLogger(__name__)


class OpcUaSourceConfig(PluginConfig):
    type: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    root: str = Field(min_length=1, description="browse name of the object or folder to map, under Objects")
    publishing_interval_ms: int = Field(100, ge=10)
    queue_size: int = Field(1000, ge=1)
    timeout_s: float = Field(10.0, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)


@dataclass(frozen=True, slots=True)
class Tag:
    asset: str
    signal: str
    unit: str


def quality_of(status: ua.StatusCode | None) -> Quality:
    severity = (status.value >> 30) if status is not None else 0  # Part 4, 7.39: top two bits
    return Quality.GOOD if severity == 0 else Quality.UNCERTAIN if severity == 1 else Quality.BAD


@source
class OpcUaSource(Source):
    config_model = OpcUaSourceConfig
    config: OpcUaSourceConfig

    def __init__(self, config: OpcUaSourceConfig, ctx: PluginContext) -> None:
        super().__init__(config, ctx)
        self.tags: dict[ua.NodeId, Tag] = {}
        self._pending: list[Sample] = []

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the session: log, wait, reconnect
                self.connected = False
                log.warning("%s: OPC-UA session to %s ended: %s; reconnecting in %.0f s",
                            self.config.name, self.config.endpoint, exc or type(exc).__name__, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    async def _session(self) -> None:
        client = Client(self.config.endpoint, timeout=self.config.timeout_s)
        async with client:
            self.tags = await self.discover(client)
            sub = await client.create_subscription(self.config.publishing_interval_ms, self)
            results = await sub.subscribe_data_change(
                [client.get_node(n) for n in self.tags], queuesize=self.config.queue_size)
            failed = [r for r in results if not isinstance(r, int)]
            if failed:
                log.warning("%s: %d variables could not be monitored", self.config.name, len(failed))
            self.connected = True
            self.ready.set()
            log.info("%s: monitoring %d variables on %s", self.config.name, len(self.tags), self.config.endpoint)
            while True:
                await asyncio.sleep(1.0)
                await client.check_connection()

    async def discover(self, client: Client) -> dict[ua.NodeId, Tag]:
        objects = client.nodes.objects
        for ref in await objects.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences):
            if ref.BrowseName.Name == self.config.root:
                tags: dict[ua.NodeId, Tag] = {}
                await self._walk(client, client.get_node(ref.NodeId), [self.config.root], tags)
                return tags
        raise LookupError(f"no object or folder named {self.config.root!r} under Objects")

    async def _walk(self, client: Client, node: Node, path: list[str], tags: dict[ua.NodeId, Tag]) -> None:
        for ref in await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences):
            if ref.ReferenceTypeId == ua.NodeId(ua.ObjectIds.HasProperty):
                continue
            name = ref.BrowseName.Name
            if ref.NodeClass == ua.NodeClass.Variable:
                tags[ref.NodeId] = Tag("/".join(path), name, await self._unit(client, client.get_node(ref.NodeId)))
            elif ref.NodeClass == ua.NodeClass.Object:
                await self._walk(client, client.get_node(ref.NodeId), [*path, name], tags)

    @staticmethod
    async def _unit(client: Client, var: Node) -> str:
        for ref in await var.get_children_descriptions(refs=ua.ObjectIds.HasProperty):
            if ref.BrowseName.Name == "EngineeringUnits":
                eu = await client.get_node(ref.NodeId).read_value()
                if isinstance(eu, ua.EUInformation) and eu.DisplayName.Text:
                    return eu.DisplayName.Text
        return ""

    # asyncua subscription handler interface
    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        tag = self.tags.get(node.nodeid)
        if tag is None:
            return
        dv: ua.DataValue = data.monitored_item.Value
        ts = dv.SourceTimestamp or dv.ServerTimestamp
        if isinstance(val, bool | int | float | str) and ts is not None:
            if isinstance(val, float) and val != val:
                self.ctx.quarantine.reject(self.config.name, "not_finite", f"{tag.asset}/{tag.signal}",
                                           "value is NaN", str(node.nodeid))
                return
            self._pending.append(Sample(tag.asset, tag.signal, val, tag.unit, utc(ts), quality_of(dv.StatusCode)))
            if len(self._pending) == 1:  # one emit per notification message, not per value
                asyncio.get_running_loop().call_soon(self._flush)
        else:
            reason = "no_timestamp" if ts is None else "no_value" if val is None else "unsupported_type"
            self.ctx.quarantine.reject(self.config.name, reason, f"{tag.asset}/{tag.signal}",
                                       f"cannot store {type(val).__name__} value {val!r} (status {dv.StatusCode})",
                                       str(node.nodeid))

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self.ctx.emit(batch)

    def status_change_notification(self, status: Any) -> None:
        log.warning("%s: subscription status changed: %s", self.config.name, status)
