"""OPC-UA tags: which variable feeds which signal, found by browsing and kept as a reviewable YAML file.

NodeIds are written with their namespace URI (``nsu=urn:vendor:plc;s=Line1.Speed``), never with the
namespace index a server happened to assign at its last start: a server restart or firmware update that
renumbers its namespaces then changes nothing, because every connection resolves the URI afresh.

A tag file, as ``factory-twin edge discover`` writes it (and as an agent's ``tags_file`` reads it)::

    tags:
      - node: nsu=urn:factory-twin:simulator;s=acme/plant1/machining/line1/turning/cnc-1/spindle_speed
        asset: acme/plant1/machining/line1/turning/cnc-1
        signal: spindle_speed
        unit: rpm
        sampling_interval_ms: 50          # optional, per tag
        deadband: {type: absolute, value: 5}
        queue_size: 10
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, Self

import yaml
from asyncua import Client, Node, ua
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge_agent.mapping import ValueMap
from plantmodel import units

_NSU = re.compile(r"^nsu=(?P<uri>.+?);(?P<id>[isgb]=.*)$", re.DOTALL)
_NS = re.compile(r"^ns=(?P<ns>\d+);(?P<id>[isgb]=.*)$", re.DOTALL)
_HAS_PROPERTY = ua.NodeId(ua.ObjectIds.HasProperty)


class Deadband(BaseModel):
    """A data-change filter: the server reports a value only when it moved by more than this."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["absolute", "percent"]
    value: float = Field(ge=0, description="engineering units for absolute, % of the EURange for percent")

    @model_validator(mode="after")
    def _percent_range(self) -> Self:
        if self.type == "percent" and self.value > 100:
            raise ValueError("a percent deadband is at most 100")
        return self

    def filter(self) -> ua.DataChangeFilter:
        kind = ua.DeadbandType.Absolute if self.type == "absolute" else ua.DeadbandType.Percent
        return ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValue, DeadbandType=kind,
                                   DeadbandValue=self.value)


class OpcUaTag(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    node: str = Field(pattern=r"^(nsu=.+?|ns=\d+);[isgb]=", description="NodeId, best with nsu=<namespace URI>")
    asset: str = Field(min_length=1, description="ISA-95 path of the asset the signal belongs to")
    signal: str = Field(min_length=1)
    unit: str = ""
    sampling_interval_ms: float | None = Field(None, ge=0, description="default: the source's")
    queue_size: int | None = Field(None, ge=1, description="default: the source's")
    deadband: Deadband | None = None
    map: ValueMap | None = Field(None, description="how the raw value becomes the signal's (see edge_agent/mapping.py)")
    enum: dict[int, str] | None = Field(None, description="the values the server declared for this enumeration "
                                                          "when it was discovered; a value map must cover them")

    _unit = field_validator("unit")(lambda unit: units.normalise(unit))  # one spelling per unit in the namespace


class TagFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tags: list[OpcUaTag] = Field(min_length=1)


def nsu_string(nodeid: ua.NodeId, namespaces: list[str]) -> str:
    """The NodeId as text that stays valid when the server renumbers its namespaces."""
    local = ua.NodeId(nodeid.Identifier, 0, nodeid.NodeIdType).to_string()
    if nodeid.NamespaceIndex == 0:
        return local
    return f"nsu={namespaces[nodeid.NamespaceIndex]};{local}"


def resolve(text: str, namespaces: list[str]) -> ua.NodeId:
    """The NodeId for `text` with the namespace index this server uses now."""
    m = _NSU.match(text)
    if m is None:
        return ua.NodeId.from_string(text)
    try:
        index = namespaces.index(m.group("uri"))
    except ValueError:
        raise LookupError(f"the server has no namespace {m.group('uri')!r} (node {text})") from None
    return ua.NodeId.from_string(f"ns={index};{m.group('id')}")


def namespace_uris(tags: Iterable[OpcUaTag]) -> set[str]:
    return {m.group("uri") for t in tags for m in [_NSU.match(t.node)] if m}


async def find_path(client: Client, path: str) -> Node:
    """The node at a ``/``-separated browse path below Objects (browse names, namespace ignored)."""
    node = client.nodes.objects
    for i, name in enumerate(p for p in path.split("/") if p):
        for ref in await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences):
            if ref.BrowseName.Name == name:
                node = client.get_node(ref.NodeId)
                break
        else:
            where = "/".join(path.split("/")[:i]) or "Objects"
            raise LookupError(f"no object or folder named {name!r} below {where}")
    return node


async def browse(client: Client, root: str | None = None, object_types: Iterable[str] = ()) -> list[OpcUaTag]:
    """Map every variable below `root` (or, with `object_types`, below every instance of those types).

    Without types, a variable's asset is the browse path of the object that holds it and its signal the
    variable's browse name. With types, each instance is an asset and its signal names are browse paths
    relative to it (``spindle.speed``), so one machine type with nested objects still maps completely.
    """
    namespaces = await client.get_namespace_array()
    types = {resolve(t, namespaces) for t in object_types}
    start = await find_path(client, root) if root else client.nodes.objects
    start_path = [p for p in (root or "").split("/") if p]
    found: list[tuple[ua.NodeId, str, str]] = []
    await _walk(client, start, start_path, types, None, found)
    units = await _units(client, [nodeid for nodeid, _, _ in found])
    return [OpcUaTag(node=nsu_string(nodeid, namespaces), asset=asset, signal=signal, unit=unit)
            for (nodeid, asset, signal), unit in zip(found, units, strict=True)]


async def _walk(client: Client, node: Node, path: list[str], types: set[ua.NodeId],
                instance: int | None, found: list[tuple[ua.NodeId, str, str]]) -> None:
    """`instance` is the depth of the typed object being mapped (None: not inside one yet)."""
    for ref in await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences):
        if ref.ReferenceTypeId == _HAS_PROPERTY:
            continue
        name = ref.BrowseName.Name
        if ref.NodeClass == ua.NodeClass.Variable:
            if not types:
                found.append((ref.NodeId, "/".join(path), name))
            elif instance is not None:
                found.append((ref.NodeId, "/".join(path[:instance]), ".".join([*path[instance:], name])))
        elif ref.NodeClass == ua.NodeClass.Object:
            if node.nodeid == ua.NodeId(ua.ObjectIds.ObjectsFolder) and ref.NodeId == ua.NodeId(ua.ObjectIds.Server):
                continue  # the server's own diagnostics are not plant signals
            depth = instance
            if types and instance is None and ref.TypeDefinition in types:
                depth = len(path) + 1
            await _walk(client, client.get_node(ref.NodeId), [*path, name], types, depth, found)


async def _units(client: Client, variables: list[ua.NodeId], chunk: int = 200) -> list[str]:
    """Engineering units from each variable's EUInformation property, read in batches."""
    units = [""] * len(variables)
    props: list[tuple[int, ua.NodeId]] = []
    for start in range(0, len(variables), chunk):
        part = variables[start:start + chunk]
        children = await asyncio.gather(*(client.get_node(v).get_children_descriptions(refs=ua.ObjectIds.HasProperty)
                                          for v in part))
        for offset, refs in enumerate(children):
            for ref in refs:
                if ref.BrowseName.Name == "EngineeringUnits":
                    props.append((start + offset, ref.NodeId))
    for start in range(0, len(props), chunk):
        part = props[start:start + chunk]
        values = await client.read_values([client.get_node(n) for _, n in part])
        for (i, _), eu in zip(part, values, strict=True):
            if isinstance(eu, ua.EUInformation) and eu.DisplayName and eu.DisplayName.Text:
                units[i] = eu.DisplayName.Text
    return units


def tags_yaml(tags: list[OpcUaTag], endpoint: str, root: str | None, object_types: Iterable[str]) -> str:
    """The discovered mapping as YAML with a header saying where it came from and how to use it."""
    scope = ", ".join([*(f"root {root}" for _ in [root] if root), *(f"type {t}" for t in object_types)])
    header = (f"# {len(tags)} variables discovered on {endpoint} ({scope or 'all objects'})\n"
              f"# at {datetime.now(UTC).isoformat(timespec='seconds')} by `factory-twin edge discover`.\n"
              "# Review the asset paths, signal names and units, then point an opcua source at this file:\n"
              "#   sources:\n#     - type: opcua\n#       name: my-plc\n"
              f"#       endpoint: {endpoint}\n#       tags_file: <this file>\n")
    body = {"tags": [t.model_dump(exclude_none=True, exclude_defaults=True) | {"unit": t.unit} for t in tags]}
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=1000)
