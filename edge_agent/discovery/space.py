"""A server's address space as a tree of objects and variables, read once for a discovery draft.

Each object carries its type definition and that type's supertypes (so an instance of a vendor's subtype
of ``MachineToolType`` is still recognised as a machine tool); each variable its data type, array rank,
engineering unit and, for an enumeration, the values the server declares (a state map must cover them).
Browsing is breadth first, a level's nodes in concurrent batches, with a node budget so a huge server
cannot make discovery run away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from asyncua import Client, Node, ua

from edge_agent.sources.opcua_tags import find_path, nsu_string

_HAS_PROPERTY = ua.NodeId(ua.ObjectIds.HasProperty)
_HAS_SUBTYPE = ua.ObjectIds.HasSubtype
_ENUMERATION = ua.NodeId(ua.ObjectIds.Enumeration)
_BASE_TYPES = {ua.NodeId(ua.ObjectIds.BaseObjectType), ua.NodeId(ua.ObjectIds.BaseDataType)}
CHUNK = 100


@dataclass
class Variable:
    nodeid: ua.NodeId
    node: str  # nsu= text, stable across namespace renumbering
    name: str
    datatype: ua.NodeId | None = None
    datatype_name: str = ""
    value_rank: int = -1
    unit: str = ""
    enum: dict[int, str] | None = None  # the values an enumeration declares
    length: int | None = None  # an array's length when it was read

    @property
    def is_array(self) -> bool:
        return self.value_rank >= 1 or self.value_rank == 0


@dataclass
class Object:
    nodeid: ua.NodeId
    name: str
    path: tuple[str, ...]  # browse names from the root of the walk
    types: tuple[tuple[str, str], ...] = ()  # (namespace URI, name): its type definition, then the supertypes
    objects: list[Object] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)

    def walk(self) -> Iterator[Object]:
        yield self
        for child in self.objects:
            yield from child.walk()

    def find(self, path: tuple[str, ...]) -> Object | Variable | None:
        """The descendant at a path of browse names; ``*`` matches any one object."""
        if not path:
            return self
        head, rest = path[0], path[1:]
        if not rest:
            hit = next((v for v in self.variables if v.name == head), None)
            if hit is not None:
                return hit
        for child in self.objects:
            if head in ("*", child.name):
                found = child.find(rest)
                if found is not None:
                    return found
        return None

    def is_a(self, uri: str, names: set[str]) -> bool:
        return any(u == uri and n in names for u, n in self.types)


class AddressSpace:
    def __init__(self, client: Client, max_nodes: int = 20_000, max_depth: int = 16) -> None:
        self.client, self.max_nodes, self.max_depth = client, max_nodes, max_depth
        self.namespaces: list[str] = []
        self._types: dict[ua.NodeId, tuple[tuple[str, str], ...]] = {}
        self._enums: dict[ua.NodeId, tuple[str, dict[int, str] | None]] = {}
        self.truncated = False

    async def read(self, root: str | None = None) -> Object:
        """The tree below `root` (a ``/``-separated browse path below Objects; default Objects itself)."""
        self.namespaces = await self.client.get_namespace_array()
        start = await find_path(self.client, root) if root else self.client.nodes.objects
        top = Object(start.nodeid, root.rsplit("/", 1)[-1] if root else "Objects", ())
        seen = {start.nodeid}
        level, count = [top], 0
        variables: list[Variable] = []
        for _ in range(self.max_depth):
            if not level:
                break
            nxt: list[Object] = []
            for i in range(0, len(level), CHUNK):
                part = level[i:i + CHUNK]
                children = await asyncio.gather(*(self._children(self.client.get_node(o.nodeid)) for o in part))
                for parent, refs in zip(part, children, strict=True):
                    for ref in refs:
                        if ref.NodeId in seen or ref.ReferenceTypeId == _HAS_PROPERTY:
                            continue
                        if parent.nodeid == ua.NodeId(ua.ObjectIds.ObjectsFolder) and \
                                ref.NodeId == ua.NodeId(ua.ObjectIds.Server):
                            continue  # the server's own diagnostics are not plant signals
                        seen.add(ref.NodeId)
                        count += 1
                        if count > self.max_nodes:
                            self.truncated = True
                            break
                        name = ref.BrowseName.Name
                        if ref.NodeClass == ua.NodeClass.Variable:
                            var = Variable(ref.NodeId, nsu_string(ref.NodeId, self.namespaces), name)
                            parent.variables.append(var)
                            variables.append(var)
                            # a variable may have components of its own (a state machine's CurrentState has Id,
                            # Number): walk them as an object of the same name
                            holder = Object(ref.NodeId, name, (*parent.path, name))
                            holder.variables = []
                            nxt.append(holder)
                            parent.objects.append(holder)
                        elif ref.NodeClass == ua.NodeClass.Object:
                            child = Object(ref.NodeId, name, (*parent.path, name),
                                           await self._type_chain(ref.TypeDefinition))
                            parent.objects.append(child)
                            nxt.append(child)
            level = nxt
        else:
            self.truncated = True
        _prune(top)
        await self._describe(variables)
        return top

    async def _children(self, node: Node) -> list[ua.ReferenceDescription]:
        return await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)

    async def _type_chain(self, typedef: ua.NodeId) -> tuple[tuple[str, str], ...]:
        """The type definition and its supertypes up to BaseObjectType, as (namespace URI, name)."""
        if typedef in self._types:
            return self._types[typedef]
        chain: list[tuple[str, str]] = []
        current: ua.NodeId | None = typedef
        while current is not None and current not in _BASE_TYPES and len(chain) < 16:
            node = self.client.get_node(current)
            try:
                name = await node.read_browse_name()
                refs = await node.get_references(refs=_HAS_SUBTYPE, direction=ua.BrowseDirection.Inverse)
            except Exception:  # a type the server will not describe: stop here
                break
            chain.append((self.namespaces[name.NamespaceIndex], name.Name))
            current = refs[0].NodeId if refs else None
        self._types[typedef] = tuple(chain)
        return self._types[typedef]

    async def _describe(self, variables: list[Variable]) -> None:
        """Data type, rank and unit of every variable, read in batches."""
        for i in range(0, len(variables), CHUNK):
            part = variables[i:i + CHUNK]
            nodes = [self.client.get_node(v.nodeid) for v in part]
            types = await self.client.read_attributes(nodes, ua.AttributeIds.DataType)
            ranks = await self.client.read_attributes(nodes, ua.AttributeIds.ValueRank)
            props = await asyncio.gather(*(n.get_children_descriptions(refs=ua.ObjectIds.HasProperty) for n in nodes))
            for v, t, r, p in zip(part, types, ranks, props, strict=True):
                v.datatype = t.Value.Value if t.Value is not None else None
                v.value_rank = r.Value.Value if r.Value is not None and isinstance(r.Value.Value, int) else -1
                eu = next((ref.NodeId for ref in p if ref.BrowseName.Name == "EngineeringUnits"), None)
                if eu is not None:
                    value = await self.client.get_node(eu).read_value()
                    if isinstance(value, ua.EUInformation) and value.DisplayName and value.DisplayName.Text:
                        v.unit = value.DisplayName.Text
                if isinstance(v.datatype, ua.NodeId):
                    v.datatype_name, v.enum = await self._datatype(v.datatype)
            arrays = [v for v in part if v.is_array]
            if arrays:  # the length an array has now: the catalogue declares it
                values = await self.client.read_values([self.client.get_node(v.nodeid) for v in arrays])
                for v, value in zip(arrays, values, strict=True):
                    v.length = len(value) if isinstance(value, list) else None

    async def _datatype(self, datatype: ua.NodeId) -> tuple[str, dict[int, str] | None]:
        """The data type's name and, for an enumeration, its values (EnumStrings or EnumValues)."""
        if datatype in self._enums:
            return self._enums[datatype]
        node = self.client.get_node(datatype)
        name, values = "", None
        try:
            name = (await node.read_browse_name()).Name
            chain: list[Any] = []
            current = datatype
            while current is not None and current not in _BASE_TYPES and len(chain) < 8:
                chain.append(current)
                refs = await self.client.get_node(current).get_references(refs=_HAS_SUBTYPE,
                                                                          direction=ua.BrowseDirection.Inverse)
                current = refs[0].NodeId if refs else None
            if _ENUMERATION in chain:
                for prop in await node.get_children_descriptions(refs=ua.ObjectIds.HasProperty):
                    value = await self.client.get_node(prop.NodeId).read_value()
                    if prop.BrowseName.Name == "EnumStrings" and isinstance(value, list):
                        values = {i: t.Text or "" for i, t in enumerate(value)}
                    elif prop.BrowseName.Name == "EnumValues" and isinstance(value, list):
                        values = {int(e.Value): e.DisplayName.Text or "" for e in value}
                values = values or {}
        except Exception:  # a data type the server will not describe: treat the value as it comes
            pass
        self._enums[datatype] = (name, values)
        return self._enums[datatype]


def _prune(obj: Object) -> bool:
    """Drop branches holding no variable (folders of methods, empty placeholders); True if any remain."""
    obj.objects = [c for c in obj.objects if _prune(c)]
    return bool(obj.variables or obj.objects)
