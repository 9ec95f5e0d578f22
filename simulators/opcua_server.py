"""An OPC-UA server that exposes the simulated line the way a line PLC or a machine's controller would.

The address space mirrors the ISA-95 hierarchy: ``Objects/<enterprise>/<site>/<area>/<line>/<cell>``
are folders, every asset is an object, and every signal a variable with its engineering unit in an
``EngineeringUnits`` (EUInformation) property. NodeIds are strings of the ISA-95 path
(``ns=<urn:factory-twin:simulator>;s=acme/plant1/.../cnc-1/spindle_speed``).

Values are written with the source timestamp the model gave them, and only when they change: OPC-UA
reports by exception, so a write of an unchanged value would reach no client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from asyncua import Server, ua
from asyncua.common.callback import CallbackType, ServerItemCallback

from plantmodel.plant import PATH_SEP, Asset
from plantmodel.telemetry import Sample, Value, utc

NAMESPACE_URI = "urn:factory-twin:simulator"
_UNECE = "http://www.opcfoundation.org/UA/units/un/cefact"
log = logging.getLogger(__name__)


def _variant(value: Value) -> ua.Variant:
    if isinstance(value, bool):
        return ua.Variant(value, ua.VariantType.Boolean)
    if isinstance(value, int):
        return ua.Variant(value, ua.VariantType.Int64)
    if isinstance(value, float):
        return ua.Variant(value, ua.VariantType.Double)
    return ua.Variant(value, ua.VariantType.String)


class PlantServer:
    """Serves the given assets; `publish` writes samples and returns those that were new values."""

    def __init__(self, assets: Iterable[Asset], endpoint: str, name: str = "factory-twin line simulator"):
        self.assets = list(assets)
        self.endpoint, self.name = endpoint, name
        self.server = Server()
        self.nodes: dict[tuple[str, str], ua.NodeId] = {}
        self.last: dict[ua.NodeId, Value] = {}
        self.monitored = 0
        self._monitored_changed = asyncio.Event()

    async def start(self, initial: Iterable[Sample]) -> list[Sample]:
        """Build the address space with each variable holding its initial sample, then listen."""
        await self.server.init()
        self.server.set_endpoint(self.endpoint)
        self.server.set_server_name(self.name)
        self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await self.server.register_namespace(NAMESPACE_URI)
        first = {(s.asset, s.signal): s for s in initial}
        folders: dict[str, object] = {}
        written: list[Sample] = []
        for asset in self.assets:
            parent = self.server.nodes.objects
            levels = asset.path.split(PATH_SEP)
            for depth in range(1, len(levels)):
                key = PATH_SEP.join(levels[:depth])
                if key not in folders:
                    name = ua.QualifiedName(levels[depth - 1], idx)
                    folders[key] = await parent.add_folder(ua.NodeId(key, idx), name)
                parent = folders[key]
            obj = await parent.add_object(ua.NodeId(asset.path, idx), ua.QualifiedName(asset.id, idx))
            for spec in asset.signals:
                sample = first.get((asset.path, spec.name))
                if sample is None:
                    continue
                nodeid = ua.NodeId(f"{asset.path}/{spec.name}", idx)
                var = await obj.add_variable(nodeid, ua.QualifiedName(spec.name, idx), _variant(sample.value))
                if spec.unit:
                    await var.add_property(idx, "EngineeringUnits", ua.EUInformation(
                        NamespaceUri=_UNECE, UnitId=-1, DisplayName=ua.LocalizedText(spec.unit),
                        Description=ua.LocalizedText(spec.unit)))
                self.nodes[(asset.path, spec.name)] = nodeid
                await self._write(nodeid, sample)
                written.append(sample)
        self.server.subscribe_server_callback(CallbackType.ItemSubscriptionCreated, self._on_items)
        await self.server.start()
        log.info("OPC-UA server listening on %s with %d variables", self.endpoint, len(self.nodes))
        return written

    async def stop(self) -> None:
        await self.server.stop()

    async def publish(self, samples: Iterable[Sample]) -> list[Sample]:
        written = []
        for sample in samples:
            nodeid = self.nodes.get((sample.asset, sample.signal))
            if nodeid is None or self.last.get(nodeid) == sample.value:
                continue
            await self._write(nodeid, sample)
            written.append(sample)
        return written

    async def _write(self, nodeid: ua.NodeId, sample: Sample) -> None:
        dv = ua.DataValue(_variant(sample.value), SourceTimestamp=utc(sample.ts).replace(tzinfo=None),
                          ServerTimestamp=None)
        await self.server.write_attribute_value(nodeid, dv)
        self.last[nodeid] = sample.value

    def _on_items(self, event: ServerItemCallback, dispatcher: object) -> None:
        self.monitored += sum(1 for result in event.response_params if result.StatusCode.is_good())
        self._monitored_changed.set()

    async def wait_for_subscribers(self, timeout_s: float) -> bool:
        """Wait until a client monitors every variable (so no change goes unseen); False on time-out."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.monitored < len(self.nodes):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            self._monitored_changed.clear()
            try:
                await asyncio.wait_for(self._monitored_changed.wait(), remaining)
            except TimeoutError:
                return False
        return True
