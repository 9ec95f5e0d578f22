"""Asset types as data: which signals an asset carries, which one holds its state, which count its parts.

The shipped types live in ``asset_types.yaml`` beside this module (CNC machine, robot, conveyor, buffer,
inspection station, AGV, press, packaging machine, equipment); a plant file adds its own under
``asset_types:`` with the same schema, e.g. a press type of its own::

    asset_types:
      servo_press:
        extends: press                     # inherits role, signals, state and part counters
        name: Servo press
        signals:
          motor_torque: {unit: N·m, range: [0, 5000], description: servo motor torque}

A type's *role* says what the twin does with it (see ``AssetRole``); nothing in the twin depends on a type's
name. Signal names are the namespace's own (lower case, ``_``; ``.`` for nested ones such as ``axis.x``); an
``array`` signal of length n is also addressed element by element as ``name.0`` ... ``name.<n-1>``.

>>> cat = builtin()
>>> cat.type("cnc_machine").signal("spindle_temperature").unit
'°C'
>>> cat.type("buffer").role
<AssetRole.BUFFER: 'buffer'>
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from plantmodel import units

TypeId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
SignalName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]*(\.[a-z0-9][a-z0-9_]*)*$", max_length=64)]
Outcome = Literal["good", "scrap", "rework", "total"]


class AssetType(StrEnum):
    """Ids of the shipped types that the simulator knows how to simulate (the twin never looks at these)."""

    CNC_MACHINE = "cnc_machine"
    INDUSTRIAL_ROBOT = "industrial_robot"
    CONVEYOR = "conveyor"
    BUFFER = "buffer"
    INSPECTION_STATION = "inspection_station"
    AGV = "agv"
    PRESS = "press"
    PACKAGING_MACHINE = "packaging_machine"


class AssetRole(StrEnum):
    STATION = "station"  # processes parts one after another: state, part counters, OEE
    BUFFER = "buffer"  # holds parts between stations: level and capacity
    TRANSPORT = "transport"  # moves parts: state, parts delivered
    EQUIPMENT = "equipment"  # watched, not in the part flow


class SignalKind(StrEnum):
    ANALOG = "analog"  # a measured quantity
    STATE = "state"  # an enumerated operating state (text)
    COUNTER = "counter"  # a count that only grows, apart from resets and roll-overs
    TEXT = "text"  # any other text value


TEXTUAL = frozenset({SignalKind.STATE, SignalKind.TEXT})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(_Strict):
    """One signal of a type. `name` is filled in from the key it is listed under."""

    name: str = ""
    kind: SignalKind = SignalKind.ANALOG
    unit: str = Field("", description="engineering unit, normalised (°C, mm/s, kW, parts, ...)")
    range: tuple[float, float] | None = Field(None, description="plausible values [low, high]")
    array: int | None = Field(None, ge=1, le=1024, description="an array of this many elements")
    drifts: bool = Field(False, description="drifts by nature (wear): anomaly models watch its steps, not its level")
    description: str = ""

    @field_validator("unit")
    @classmethod
    def _normalise(cls, unit: str) -> str:
        return units.normalise(unit)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range: low must be below high; got {list(self.range)}")
        if self.kind in TEXTUAL and (self.unit or self.range):
            raise ValueError(f"a {self.kind} signal has no unit or range")
        return self

    @property
    def textual(self) -> bool:
        return self.kind in TEXTUAL


class AssetTypeDef(_Strict):
    """A type as written in YAML; `extends` names a type whose definition it starts from."""

    extends: TypeId | None = None
    abstract: bool = Field(False, description="a base for other types, not for assets")
    role: AssetRole | None = None
    name: str = ""
    description: str = ""
    state: SignalName | None = Field(None, description="the signal carrying the operating state")
    alarm: SignalName | None = Field(None, description="the signal carrying the active alarm code")
    part_counters: dict[SignalName, Outcome] | None = Field(None, description="counters whose increments are parts")
    level: SignalName | None = Field(None, description="buffer: the signal holding the number of parts")
    capacity: SignalName | None = Field(None, description="buffer: the signal holding its capacity")
    signals: dict[SignalName, SignalSpec] = {}


class AssetTypeSpec(_Strict):
    """A type resolved: its ancestors' definitions merged in, every reference checked."""

    id: str
    role: AssetRole
    name: str
    description: str
    state: str | None
    alarm: str | None
    part_counters: dict[str, Outcome]
    level: str | None
    capacity: str | None
    signals: dict[str, SignalSpec]
    lineage: tuple[str, ...] = ()  # this type, then what it extends, ...

    def signal(self, name: str) -> SignalSpec | None:
        """The spec of a signal, or of the array it is an element of (``temperatures.3``)."""
        spec = self.signals.get(name)
        if spec is not None:
            return spec
        base, _, index = name.rpartition(".")
        spec = self.signals.get(base)
        if spec is not None and spec.array is not None and index.isdigit() and int(index) < spec.array:
            return spec
        return None

    def is_a(self, type_id: str) -> bool:
        return type_id in self.lineage

    def with_signals(self, extra: Mapping[str, SignalSpec]) -> AssetTypeSpec:
        """This type plus an asset's own signals (an extra sensor on one machine needs no type of its own)."""
        if not extra:
            return self
        named = {n: s.model_copy(update={"name": n}) for n, s in extra.items()}
        return self.model_copy(update={"signals": {**self.signals, **named}})


class CatalogError(ValueError):
    """`problems` are (key path, message) pairs, the path relative to the catalogue's mapping of types."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


class Catalog:
    """Resolved types by id; lookups are dict reads (the twin consults it per sample)."""

    def __init__(self, types: Mapping[str, AssetTypeSpec], hidden: Iterable[str] = ()) -> None:
        self.types = dict(types)
        self.hidden = frozenset(hidden)  # abstract bases: types to extend, not to give an asset

    def type(self, type_id: str) -> AssetTypeSpec:
        return self.types[type_id]

    def __contains__(self, type_id: object) -> bool:
        return type_id in self.types

    @classmethod
    def resolve(cls, definitions: Mapping[str, AssetTypeDef], base: Catalog | None = None) -> Catalog:
        """Types from their definitions, on top of `base` (whose ids may not be redefined)."""
        problems: list[tuple[str, str]] = []
        known = dict(base.types) if base else {}
        hidden = set(base.hidden) if base else set()
        for type_id in definitions:
            if type_id in known:
                problems.append((type_id, f"{type_id!r} is a shipped type; give yours another id and "
                                          f"`extends: {type_id}`"))
        resolved: dict[str, AssetTypeSpec] = {}

        def build(type_id: str, chain: tuple[str, ...]) -> AssetTypeSpec | None:
            if type_id in resolved:
                return resolved[type_id]
            if type_id in known:
                return known[type_id]
            d = definitions[type_id]
            parent: AssetTypeSpec | None = None
            if d.extends is not None:
                if d.extends in chain:
                    problems.append((f"{type_id}.extends", f"a cycle: {' -> '.join([*chain, d.extends])}"))
                    return None
                if d.extends not in definitions and d.extends not in known:
                    problems.append((f"{type_id}.extends", f"no type {d.extends!r}; known: "
                                                           f"{', '.join(sorted({*known, *definitions}))}"))
                    return None
                parent = build(d.extends, (*chain, d.extends))
                if parent is None:
                    return None
            spec = _merge(type_id, d, parent, problems)
            if spec is not None:
                resolved[type_id] = spec
                if d.abstract:
                    hidden.add(type_id)
            return spec

        for type_id in definitions:
            if type_id not in known:
                build(type_id, (type_id,))
        if problems:
            raise CatalogError(problems)
        return cls({**known, **resolved}, hidden)

    def assignable(self) -> list[str]:
        """Type ids an asset may have (abstract bases excluded)."""
        return sorted(t for t in self.types if t not in self.hidden)


def _merge(type_id: str, d: AssetTypeDef, parent: AssetTypeSpec | None,
           problems: list[tuple[str, str]]) -> AssetTypeSpec | None:
    role = d.role or (parent.role if parent else None)
    if role is None:
        problems.append((f"{type_id}.role", "give a role (station, buffer, transport, equipment) or `extends`"))
        return None
    signals = {**(parent.signals if parent else {}),
               **{n: s.model_copy(update={"name": n}) for n, s in d.signals.items()}}
    state = d.state if d.state is not None else (parent.state if parent else None)
    alarm = d.alarm if d.alarm is not None else (parent.alarm if parent else None)
    counters = d.part_counters if d.part_counters is not None else (parent.part_counters if parent else {})
    level = d.level if d.level is not None else (parent.level if parent else None)
    capacity = d.capacity if d.capacity is not None else (parent.capacity if parent else None)

    def need(key: str, name: str | None, kinds: tuple[SignalKind, ...]) -> None:
        if name is None:
            return
        spec = signals.get(name)
        if spec is None:
            problems.append((f"{type_id}.{key}", f"{name!r} is not a signal of this type"))
        elif spec.kind not in kinds:
            problems.append((f"{type_id}.{key}", f"{name!r} is a {spec.kind} signal; expected "
                                                 f"{' or '.join(kinds)}"))

    need("state", state, (SignalKind.STATE,))
    need("alarm", alarm, (SignalKind.TEXT,))
    for name in counters:
        need(f"part_counters.{name}", name, (SignalKind.COUNTER,))
    need("level", level, (SignalKind.ANALOG, SignalKind.COUNTER))
    need("capacity", capacity, (SignalKind.ANALOG, SignalKind.COUNTER))
    if role in (AssetRole.STATION, AssetRole.TRANSPORT) and state is None:
        problems.append((f"{type_id}.state", f"a {role} needs a state signal"))
    if role is AssetRole.BUFFER and level is None:
        problems.append((f"{type_id}.level", "a buffer needs a level signal"))
    lineage = (type_id, *(parent.lineage if parent else ()))
    return AssetTypeSpec(id=type_id, role=role, name=d.name or (parent.name if parent and d.extends else type_id),
                         description=d.description or (parent.description if parent else ""), state=state,
                         alarm=alarm, part_counters=dict(counters), level=level, capacity=capacity, signals=signals,
                         lineage=lineage)


class CatalogFile(_Strict):
    types: dict[TypeId, AssetTypeDef]


@cache
def builtin() -> Catalog:
    """The shipped catalogue (read once per process)."""
    text = resources.files("plantmodel").joinpath("asset_types.yaml").read_text(encoding="utf-8")
    data = CatalogFile.model_validate(yaml.safe_load(text))
    return Catalog.resolve(data.types)
