"""An OPC-UA server that exposes the simulated line the way a line PLC or a machine's controller would.

The address space mirrors the ISA-95 hierarchy: ``Objects/<enterprise>/<site>/<area>/<line>/<cell>``
are folders, every asset is an object, and every signal a variable with its engineering unit in an
``EngineeringUnits`` (EUInformation) property. NodeIds are strings of the ISA-95 path
(``ns=<urn:factory-twin:simulator>;s=acme/plant1/.../cnc-1/spindle_speed``).

Values are written with the source timestamp the model gave them, and only when they change: OPC-UA
reports by exception, so a write of an unchanged value would reach no client.

A machine given a `MachineControl` also takes commands, as a CNC controller does: a writable
``speed_override`` (feed-rate override, percent) and the methods ``ResetAlarm()`` → Boolean and
``StopForMaintenance(seconds: Double)``. The override is a *property* of the machine object, not a data
variable: a client that maps every data variable as telemetry (the edge agent) does not take a setting
for a measurement. Refusals carry the OPC-UA status a controller would give: BadOutOfRange for a value
outside its range, BadInvalidState for a reset with no alarm active.

The server takes anonymous sessions with security policy None, and it does not ask who writes the override or
calls a method: below the twin's own policy (allow-list, a second person's approval, audit), anyone who
reaches the port can command the simulated machines. It stands in for equipment on a closed network; keep its
port on loopback or such a network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from asyncua import Server, ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.server.address_space import NodeData

from plantmodel.plant import PATH_SEP, Asset
from plantmodel.telemetry import Sample, Value, utc

NAMESPACE_URI = "urn:factory-twin:simulator"
_UNECE = "http://www.opcfoundation.org/UA/units/un/cefact"
log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


async def stop_server(server: Server, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop an asyncua server even while clients keep reconnecting.

    asyncua closes its clients' connections first and its listening socket last; a client that reconnects in
    between holds the server open until that client leaves (and `wait_closed` with it). The listener is
    closed first here, and the rest is bounded.
    """
    listener = getattr(server.bserver, "_server", None)  # asyncio.Server; asyncua has no public handle on it
    if listener is not None:
        listener.close()
    try:
        await asyncio.wait_for(server.stop(), timeout_s)
    except TimeoutError:
        log.warning("the OPC-UA server did not stop within %.0f s; leaving it to the process's exit", timeout_s)
SPEED_OVERRIDE_RANGE = (10.0, 150.0)  # percent, as a CNC's feed-rate override switch
MAINTENANCE_RANGE_S = (1.0, 86_400.0)


class MachineControl(Protocol):
    """What a machine's controller does on command (simulators.live_line.StationModel)."""

    speed_override: float

    def stop_for_maintenance(self, seconds: float) -> None: ...
    def reset_alarm(self) -> bool: ...


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

    def __init__(self, assets: Iterable[Asset], endpoint: str, name: str = "factory-twin line simulator",
                 controls: Mapping[str, MachineControl] | None = None):
        self.assets = list(assets)
        self.controls = dict(controls or {})
        self.commands = 0  # writes and method calls accepted
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
            control = self.controls.get(asset.path)
            if control is not None:
                await self._add_controls(obj, asset.path, idx, control)
        self.server.subscribe_server_callback(CallbackType.ItemSubscriptionCreated, self._on_items)
        await self.server.start()
        log.info("OPC-UA server listening on %s with %d variables", self.endpoint, len(self.nodes))
        return written

    async def stop(self) -> None:
        await stop_server(self.server)

    async def _add_controls(self, obj: Any, path: str, idx: int, control: MachineControl) -> None:
        override = await obj.add_property(ua.NodeId(f"{path}/speed_override", idx), ua.QualifiedName(
            "speed_override", idx), ua.Variant(float(control.speed_override), ua.VariantType.Double))
        await override.set_writable()

        def set_override(node: NodeData, attr: ua.AttributeIds, value: ua.DataValue) -> None:
            percent = value.Value.Value if value.Value is not None else None
            low, high = SPEED_OVERRIDE_RANGE
            if not isinstance(percent, float) or not low <= percent <= high:
                raise ua.UaStatusCodeError(ua.StatusCodes.BadOutOfRange)
            control.speed_override = percent
            node.attributes[attr].value = value
            self.commands += 1
            log.info("%s: speed override set to %.0f %%", path, percent)

        self.server.set_attribute_value_setter(override.nodeid, set_override)

        async def reset_alarm(parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
            if args:
                return ua.StatusCode(ua.StatusCodes.BadTooManyArguments)
            if not control.reset_alarm():
                return ua.StatusCode(ua.StatusCodes.BadInvalidState)
            self.commands += 1
            log.info("%s: alarm reset", path)
            return [ua.Variant(True, ua.VariantType.Boolean)]

        async def stop_for_maintenance(parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
            if len(args) != 1:
                return ua.StatusCode(ua.StatusCodes.BadArgumentsMissing if not args else
                                     ua.StatusCodes.BadTooManyArguments)
            seconds = args[0].Value
            if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                return ua.StatusCode(ua.StatusCodes.BadTypeMismatch)
            if not MAINTENANCE_RANGE_S[0] <= seconds <= MAINTENANCE_RANGE_S[1]:
                return ua.StatusCode(ua.StatusCodes.BadOutOfRange)
            control.stop_for_maintenance(float(seconds))
            self.commands += 1
            log.info("%s: stopped for maintenance for %.0f s", path, seconds)
            return []

        await obj.add_method(ua.NodeId(f"{path}/ResetAlarm", idx), ua.QualifiedName("ResetAlarm", idx),
                             reset_alarm, [], [ua.VariantType.Boolean])
        await obj.add_method(ua.NodeId(f"{path}/StopForMaintenance", idx),
                             ua.QualifiedName("StopForMaintenance", idx), stop_for_maintenance,
                             [ua.Argument(Name="seconds", DataType=ua.NodeId(ua.ObjectIds.Double), ValueRank=-1)], [])

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
