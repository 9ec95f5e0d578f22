"""A reviewable onboarding draft from a browsed server: plant model, tag file, agent and twin configs.

Instances of known companion specifications (companion_specs.yaml) become assets of the matching type with
their states, counters and signals mapped; any other object holding variables becomes an asset of type
``equipment`` with its variables as its own signals, named by their browse paths. Every browse name is
made into an ISA-95 id, and each change is reported, so the draft can be reviewed before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from asyncua import Client, ua

from edge_agent.discovery.companion import CompanionSpec, SignalRule, companion_specs
from edge_agent.discovery.space import AddressSpace, Object, Variable
from plantmodel import isa95, units
from plantmodel.catalog import AssetRole, SignalKind, builtin

_TEXT_TYPES = {"String", "LocalizedText", "QualifiedName", "DateTime", "NodeId", "Guid", "ByteString", "XmlElement"}
_INTEGER_TYPES = {"SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64"}
DEFAULT_CELL = "cell"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")  # SerialNumber -> Serial_Number


@dataclass
class DraftAsset:
    id: str
    name: str
    cell: str
    type: str
    spec: str | None = None  # companion specification id, if recognised
    identification: dict[str, str] = field(default_factory=dict)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)  # the asset's own signals beyond its type
    tags: list[dict[str, Any]] = field(default_factory=list)
    unmapped: int = 0  # variables of a recognised instance that no rule maps


@dataclass
class Draft:
    endpoint: str
    prefix: tuple[str, ...]  # enterprise, site, area, line (and cell)
    assets: list[DraftAsset] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def line_path(self) -> str:
        return "/".join(self.prefix[:4])

    def asset_path(self, a: DraftAsset) -> str:
        return f"{self.line_path}/{a.cell}/{a.id}"


async def discover_draft(client: Client, endpoint: str, prefix: str, root: str | None = None) -> Draft:
    """Browse the server below `root` and propose a draft for the line at `prefix` (4 or 5 ISA-95 segments)."""
    levels = tuple(p for p in prefix.split("/") if p)
    bad = [p for p in levels if not isa95.is_ident(p)]
    if len(levels) not in (4, 5) or bad:
        raise ValueError(f"--prefix must be enterprise/site/area/line[/cell] of lower-case ids, got {prefix!r}")
    space = AddressSpace(client)
    tree = await space.read(root)
    draft = Draft(endpoint, levels, truncated=space.truncated)
    taken: set[str] = set()
    claimed: set[int] = set()
    for obj in tree.walk():
        if id(obj) in claimed or obj is tree:
            continue
        spec = next((s for s in companion_specs() if s.matches(obj)), None)
        if spec is None:
            continue
        for inner in obj.walk():
            claimed.add(id(inner))
        draft.assets.append(await _instance(client, draft, obj, tree, spec, taken))
    for obj in _generic_assets(tree, claimed):
        draft.assets.append(_generic(draft, obj, tree, taken))
    if space.truncated:
        draft.warnings.append(f"the address space has more than {space.max_nodes} nodes or deeper than "
                              f"{space.max_depth} levels: browse a narrower --root")
    return draft


def _names(draft: Draft, obj: Object, tree: Object, taken: set[str]) -> tuple[str, str]:
    """(cell, asset id) for an object: the cell from the prefix or the object's parent folder."""
    if len(draft.prefix) == 5:
        cell = draft.prefix[4]
    elif len(obj.path) >= 2:
        cell, changed = isa95.sanitise(obj.path[-2], DEFAULT_CELL)
        if changed:
            draft.warnings.append(f"cell {obj.path[-2]!r} -> {cell!r}")
    else:
        cell = DEFAULT_CELL
    asset, changed = isa95.sanitise(obj.name, "asset")
    unique = isa95.unique(asset, taken)
    taken.add(unique)
    if changed or unique != asset:
        draft.warnings.append(f"asset {'/'.join(obj.path)!r} -> {unique!r}")
    return cell, unique


async def _instance(client: Client, draft: Draft, obj: Object, tree: Object, spec: CompanionSpec,
                    taken: set[str]) -> DraftAsset:
    cell, asset_id = _names(draft, obj, tree, taken)
    a = DraftAsset(asset_id, obj.name, cell, spec.asset_type, spec.id)
    type_spec = builtin().type(spec.asset_type)
    found = spec.variables(obj)
    for signal, feeds in found.items():
        known = type_spec.signal(signal)
        for var, m in feeds:
            rule = SignalRule(paths=[var.name], map=m)
            if known is None and signal not in a.signals:
                a.signals[signal] = _signal_spec(var, rule)
            a.tags.append(_tag(draft, a, signal, var, rule, known.unit if known else None))
    mapped = {id(v) for feeds in found.values() for v, _ in feeds}
    a.unmapped = sum(1 for o in obj.walk() for v in o.variables if id(v) not in mapped)
    if spec.identification:
        a.identification = await _nameplate(client, obj.nodeid, spec.identification.split("/"))
    missing = sorted(set(spec.signals) - set(found))
    if "state" in missing:
        draft.warnings.append(f"{asset_id}: recognised as {spec.title} but no state variable found "
                              f"(looked for {', '.join(spec.signals['state'].paths)})")
    return a


def _generic_assets(tree: Object, claimed: set[int]) -> list[Object]:
    """The top-most objects on each branch that hold variables (their deeper variables become theirs)."""
    out: list[Object] = []

    def visit(obj: Object) -> None:
        if id(obj) in claimed:
            return
        if obj is not tree and obj.variables:
            out.append(obj)
            return
        for child in obj.objects:
            visit(child)

    visit(tree)
    if tree.variables:
        out.insert(0, tree)
    return out


def _generic(draft: Draft, obj: Object, tree: Object, taken: set[str]) -> DraftAsset:
    if obj is tree:
        cell = draft.prefix[4] if len(draft.prefix) == 5 else DEFAULT_CELL
        asset_id = isa95.unique(isa95.sanitise(tree.name.lower() if tree.path else "plc")[0], taken)
        taken.add(asset_id)
    else:
        cell, asset_id = _names(draft, obj, tree, taken)
    a = DraftAsset(asset_id, obj.name, cell, "equipment")
    seen: set[str] = set(builtin().type("equipment").signals)
    for browse, var in _variables(obj, (), deep=obj is not tree):
        signal = isa95.unique(signal_name(browse), seen)
        seen.add(signal)
        if signal != ".".join(browse):
            draft.warnings.append(f"signal {'/'.join(obj.path + browse)!r} -> {signal!r}")
        rule = SignalRule(paths=["/".join(browse)], map=_default_map(var))
        a.signals[signal] = _signal_spec(var, rule)
        a.tags.append(_tag(draft, a, signal, var, rule, None))
    return a


def _variables(obj: Object, rel: tuple[str, ...], deep: bool) -> list[tuple[tuple[str, ...], Variable]]:
    out = [((*rel, v.name), v) for v in obj.variables]
    if deep:
        for child in obj.objects:
            out += _variables(child, (*rel, child.name), True)
    return out


def signal_name(browse: tuple[str, ...]) -> str:
    """A signal name from a relative browse path: snake case per level, levels joined by dots."""
    parts = [isa95.sanitise(_CAMEL.sub("_", p), "value")[0].replace("-", "_") for p in browse]
    return ".".join(p if p[0].isalnum() else f"v{p}" for p in parts)[:64]


def _default_map(var: Variable) -> dict[str, Any] | None:
    if var.datatype_name == "Boolean":
        return {"type": "number"}
    if var.enum:
        return {"states": {k: isa95.sanitise(v, str(k))[0].replace("-", "_") for k, v in var.enum.items()}}
    return None


def _kind(var: Variable, rule: SignalRule) -> SignalKind:
    m = rule.map
    if m is not None and (m.preset or m.states or m.bits):
        return SignalKind.TEXT
    if var.datatype_name in _TEXT_TYPES or var.enum:
        return SignalKind.TEXT
    return SignalKind.ANALOG


def _signal_spec(var: Variable, rule: SignalRule) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": str(_kind(var, rule))}
    if spec["kind"] == "analog" and var.unit:
        spec["unit"] = units.normalise(var.unit)
    if var.is_array and not (rule.map and rule.map.field):
        spec["array"] = max(1, min(var.length or 1024, 1024))
    spec["description"] = f"OPC UA {var.datatype_name or 'variable'} {var.name}"
    return spec


def _tag(draft: Draft, a: DraftAsset, signal: str, var: Variable, rule: SignalRule | None,
         target_unit: str | None) -> dict[str, Any]:
    tag: dict[str, Any] = {"node": var.node, "asset": draft.asset_path(a), "signal": signal,
                           "unit": units.normalise(var.unit)}
    m: dict[str, Any] = rule.map.model_dump(exclude_defaults=True) if rule and rule.map is not None else {}
    if target_unit and var.unit and units.normalise(var.unit) != target_unit and units.convertible(var.unit,
                                                                                                   target_unit):
        m["to_unit"] = target_unit
    if m:
        tag["map"] = m
    if var.enum:
        tag["enum"] = dict(var.enum)
    return tag


async def _nameplate(client: Client, instance: ua.NodeId, path: list[str]) -> dict[str, str]:
    """The values of the nameplate object's variables and properties (the walk skips properties)."""
    node = client.get_node(instance)
    for name in path:
        refs = await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)
        hit = next((r.NodeId for r in refs if r.BrowseName.Name == name), None)
        if hit is None:
            return {}
        node = client.get_node(hit)
    refs = [r for r in await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)
            if r.NodeClass == ua.NodeClass.Variable]
    values = await client.read_values([client.get_node(r.NodeId) for r in refs]) if refs else []
    out = {}
    for ref, value in zip(refs, values, strict=True):
        text = value.Text if isinstance(value, ua.LocalizedText) else value
        if isinstance(text, str | int | float) and not isinstance(text, bool) and str(text):
            out[signal_name((ref.BrowseName.Name,))] = str(text)[:200]
    return out


# -- rendering ----------------------------------------------------------------------------------------

def plant_yaml(d: Draft, timezone: str = "UTC") -> str:
    enterprise, site, area, line = d.prefix[:4]
    cells: dict[str, list[dict[str, Any]]] = {}
    flow = []
    catalog = builtin()
    for a in d.assets:
        entry: dict[str, Any] = {"id": a.id, "name": a.name, "type": a.type}
        role = catalog.type(a.type).role
        if role is AssetRole.STATION:
            flow.append(a.id)
        if a.identification:
            entry["identification"] = a.identification
        if a.signals:
            entry["signals"] = a.signals
        cells.setdefault(a.cell, []).append(entry)
    body = {"enterprise": enterprise,
            "sites": [{"id": site, "timezone": timezone, "areas": [{"id": area, "lines": [
                {"id": line, "flow": flow, "cells": [{"id": c, "assets": assets} for c, assets in cells.items()]}]}]}]}
    stations = [a.id for a in d.assets if catalog.type(a.type).role is AssetRole.STATION]
    header = (f"# Plant model drafted from {d.endpoint} at {_now()} by `factory-twin edge discover`.\n"
              "# Review it: put `flow` in the order parts move; give each station its ideal_cycle_time_s (the design\n"
              "# cycle time per part: without it OEE has no performance); change `type` where a better one fits\n"
              "# (`factory-twin plant types` lists them). Then run `factory-twin plant check` on it.\n")
    if stations:
        header += f"# Stations needing ideal_cycle_time_s: {', '.join(stations)}\n"
    return header + _dump(body)


def tags_yaml(d: Draft) -> str:
    header = (f"# {sum(len(a.tags) for a in d.assets)} tags drafted from {d.endpoint} at {_now()} by "
              "`factory-twin edge discover`.\n# Each maps one variable to one signal of the plant model; `map` says "
              "how its value is translated.\n")
    for a in d.assets:
        if a.spec:
            header += f"#   {d.asset_path(a)}: {a.spec} companion specification"
            header += f" ({a.unmapped} further variables not mapped)\n" if a.unmapped else "\n"
    return header + _dump({"tags": [t for a in d.assets for t in a.tags]})


def agent_yaml(d: Draft, name: str, security: str = "None") -> str:
    policy, _, mode = security.partition(",")
    source: dict[str, Any] = {"type": "opcua", "name": "plc", "endpoint": f"${{FT_OPCUA_ENDPOINT:-{d.endpoint}}}",
                              "tags_file": "tags.yaml"}
    if policy != "None":
        source["security"] = {"policy": policy, "mode": mode or "SignAndEncrypt"}
    body = {"name": name, "data_dir": "${FT_DATA_DIR:-./data}", "plant": "plant.yaml",
            "health": {"port": "${FT_AGENT_HEALTH_PORT:-0}"}, "sources": [source],
            "sinks": [{"type": "historian", "name": "history", "path": "${FT_DATA_DIR:-./data}/history.db"},
                      {"type": "uns", "name": "uns", "broker": {"host": "${FT_MQTT_HOST:-127.0.0.1}",
                                                                "port": "${FT_MQTT_PORT:-1883}",
                                                                "username": "${FT_MQTT_EDGE_USER:-}",
                                                                "password_env": "FT_MQTT_EDGE_PASSWORD"},
                       "qos": 1, "retain": True}]}
    return f"# Edge agent drafted by `factory-twin edge discover` at {_now()}.\n" + _dump(body)


def twin_yaml(d: Draft) -> str:
    body = {"plant": "plant.yaml", "broker": {"host": "${FT_MQTT_HOST:-127.0.0.1}", "port": "${FT_MQTT_PORT:-1883}",
                                             "username": "${FT_MQTT_TWIN_USER:-}",
                                             "password_env": "FT_MQTT_TWIN_PASSWORD"},
            "host": "${FT_HTTP_HOST:-127.0.0.1}", "port": "${FT_HTTP_PORT:-8000}",
            "history": "${FT_DATA_DIR:-./data}/history.db", "database": "${FT_DATA_DIR:-./data}/twin.db",
            "oee": {"minor_stop_s": 120},
            "auth": {"api_keys": [{"name": "plant-admin", "role": "admin", "key_env": "FT_ADMIN_KEY"},
                                  {"name": "engineer-a", "role": "engineer", "key_env": "FT_ENGINEER_KEY"},
                                  {"name": "engineer-b", "role": "engineer", "key_env": "FT_ENGINEER2_KEY"},
                                  {"name": "viewer", "role": "viewer", "key_env": "FT_VIEWER_KEY"}]}}
    return f"# Twin service drafted by `factory-twin edge discover` at {_now()}.\n" + _dump(body)


def _dump(body: Any) -> str:
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=120)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
