"""The plant model: the ISA-95 hierarchy (enterprise / site / area / line / cell / asset) from YAML.

Every asset is addressed by its ISA-95 path, e.g. ``acme/plant1/machining/line1/turning/cnc-1``; the
same path is the OPC-UA browse path, the MQTT unified-namespace topic prefix and the historian's key.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from plantmodel import isa95
from plantmodel.catalog import (
    AssetRole,
    AssetTypeDef,
    AssetTypeSpec,
    Catalog,
    CatalogError,
    SignalName,
    SignalSpec,
    TypeId,
    builtin,
)
from plantmodel.config import CONFIG_FILE
from plantmodel.period_calendar import is_period_form, upgrade
from plantmodel.routing import check_network, graph
from plantmodel.shifts import ShiftCalendarConfig
from plantmodel.simulation import (
    Dist,
    FailureMode,
    FaultInjection,
    Fleet,
    MicroStops,
    PositiveDist,
    Probability,
    Product,
    RandomFaults,
    Source,
    SplitRule,
)

Ident = Annotated[str, StringConstraints(pattern=isa95.IDENT, max_length=isa95.IDENT_MAX)]
PATH_SEP = isa95.SEP
#: roles whose assets are in the part flow (and so in a line's `flow`)
FLOW_ROLES = frozenset({AssetRole.STATION, AssetRole.TRANSPORT})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unlimited(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in {"inf", ".inf", "unlimited"}:
        return math.inf
    return value


def _whole_or_unlimited(value: float) -> float:
    if math.isinf(value):
        return value
    if value != int(value):
        raise ValueError("a capacity is a whole number of parts, or .inf (unlimited)")
    return int(value)


#: parts an asset holds: a whole number, or `.inf` (YAML's infinity) for an unlimited buffer
Capacity = Annotated[float, BeforeValidator(_unlimited), Field(ge=0), AfterValidator(_whole_or_unlimited)]


class StationSim(_Strict):
    """How the simulator makes this asset behave; ignored by everything but the simulator."""

    cycle_time_s: float | None = Field(None, gt=0, description="mean cycle time; default: the ideal one")
    cycle_time_cv: float = Field(0.05, ge=0, lt=1, description="coefficient of variation of cycle time")
    mtbf_s: float | None = Field(None, gt=0, description="mean operating time between failures")
    mttr_s: float = Field(300.0, gt=0, description="mean time to repair")
    scrap_rate: float = Field(0.0, ge=0, le=1, description="probability a part is scrapped")
    interface: Literal["opcua", "mqtt"] = "opcua"
    route_length_m: float = Field(120.0, gt=0, description="AGV only: length of its route")
    # Planning model (simulators.flow); the defaults keep the live demo's behaviour.
    cycle_time: PositiveDist | None = Field(None, description="cycle-time distribution; overrides cycle_time_s/_cv")
    parallel: int = Field(1, ge=1, description="identical machines sharing one queue")
    batch_size: int = Field(1, ge=1, description="parts processed together in one cycle")
    failures: list[FailureMode] = Field([], description="failure modes; mtbf_s/mttr_s adds an exponential one")
    micro_stops: MicroStops | None = None
    setup_time: Dist | None = Field(None, description="changeover time when the product type changes")
    rework_rate: Probability = Field(0.0, description="probability a part needs rework at this station")
    rework_time: Dist | None = Field(None, description="time to rework a part; default: one cycle")
    operator_for: list[Literal["setup", "repair", "cycle"]] = Field([], description="tasks needing an operator")
    transport_time_s: float = Field(0.0, ge=0, description="conveyor only: time a part rides the belt")
    tool_life_parts: int | None = Field(None, ge=1, description="parts a tool lasts before it is changed")
    tool_change_s: float = Field(0.0, ge=0, description="time to change a worn tool")
    tool_scrap_at_end: Probability = Field(0.0, description="extra scrap probability at the end of tool life")
    # Routing networks (a line's `links`): how a node with several inputs or outputs behaves.
    merge: Literal["any", "assemble"] = Field("any", description="several inputs: take from whichever has a part "
                                              "(any), or one part from each input at once (assemble)")
    split: SplitRule = Field("first_free", description="several outputs: which one a part goes to when its "
                             "product's routing does not say")
    rework_to: str | None = Field(None, description="a buffer upstream: parts needing rework go back there "
                                  "(a rework loop; they always find a place) instead of being reworked in place")
    rework_limit: int | None = Field(None, ge=1, description="with rework_to: a part needing rework more often "
                                     "than this is scrapped")
    fleet: Fleet | None = Field(None, description="transport only: a fleet of vehicles with dispatching")

    @model_validator(mode="after")
    def _yield_adds_up(self) -> Self:
        if self.scrap_rate + self.rework_rate > 1:
            raise ValueError(f"scrap_rate + rework_rate must not exceed 1; got {self.scrap_rate + self.rework_rate}")
        return self


class AssetConfig(_Strict):
    id: Ident
    type: TypeId = Field(description="an asset type of the catalogue: shipped, or the plant's own asset_types")
    name: str = ""
    ideal_cycle_time_s: float | None = Field(None, gt=0, description="stations: the design cycle time per part; "
                                                                      "without it OEE has no performance")
    capacity: Capacity | None = Field(None, description="buffer size (0: hand-over; .inf: unlimited), AGV load or "
                                      "parts on a belt")
    signals: dict[SignalName, SignalSpec] = Field({}, description="this asset's signals beyond its type's")
    identification: dict[str, str] = Field({}, description="nameplate: manufacturer, model, serial number, ...")
    sim: StationSim = StationSim()

    @property
    def limit(self) -> int | None:
        """The capacity as a number of parts; None when unlimited (or not given)."""
        return None if self.capacity is None or math.isinf(self.capacity) else int(self.capacity)


class CellConfig(_Strict):
    id: Ident
    name: str = ""
    assets: list[AssetConfig] = Field(min_length=1)


class SimulationConfig(_Strict):
    signal_period_s: float = Field(1.0, gt=0, description="simulated seconds between signal samples")
    seed: int = 42
    warmup_h: float = Field(0.0, ge=0, description="planning runs discard statistics before this time")
    source: Source = Source()
    products: list[Product] = Field([], description="product types; none: one product, every station")
    calendar: ShiftCalendarConfig | None = Field(None, description="wall-clock shifts (the twin's shift calendar "
                                                 "form); none: the line runs around the clock")
    operators: int | None = Field(None, ge=0, description="operators shared by the line's stations")
    faults: list[FaultInjection] = Field([], description="faults injected into the signals at set times")
    random_faults: RandomFaults | None = None
    transfer: Literal["asynchronous", "synchronous"] = Field(
        "asynchronous", description="synchronous: a rigid transfer line, every station indexes at once and one "
        "stop stops all (stations only, no buffers)")


class LineConfig(_Strict):
    id: Ident
    name: str = ""
    cells: list[CellConfig] = Field(min_length=1)
    flow: list[Ident] = Field([], description="asset ids in the order parts move through them (stations, "
                                               "buffers, transport; none for a line of equipment only)")
    links: list[Annotated[list[Ident], Field(min_length=2)]] = Field(
        [], description="a routing network: paths parts take (each a list of flow asset ids); the graph is their "
        "union. None: a serial line, each asset of the flow feeding the next")
    simulation: SimulationConfig = SimulationConfig()

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Self:
        ids: set[str] = set()
        for cell in self.cells:
            for asset in cell.assets:
                if asset.id in ids:
                    raise ValueError(f"asset id {asset.id!r} appears twice in line {self.id!r}")
                ids.add(asset.id)
        for i, asset_id in enumerate(self.flow):
            if asset_id not in ids:
                raise ValueError(f"flow[{i}]: {asset_id!r} is not an asset of this line")
            if asset_id in self.flow[:i]:
                raise ValueError(f"flow[{i}]: {asset_id!r} appears twice in the flow")
        return self


class AreaConfig(_Strict):
    id: Ident
    name: str = ""
    lines: list[LineConfig] = Field(min_length=1)


def _items(data: Any, key: str) -> list[dict[str, Any]]:
    """The mappings under `key` of raw input (anything else is for validation to refuse)."""
    items = data.get(key) if isinstance(data, dict) else None
    return [x if isinstance(x, dict) else {} for x in items] if isinstance(items, list) else []


class SiteConfig(_Strict):
    id: Ident
    name: str = ""
    timezone: str = "UTC"
    areas: list[AreaConfig] = Field(min_length=1)


class PlantConfig(_Strict):
    enterprise: Ident
    asset_types: dict[TypeId, AssetTypeDef] = Field({}, description="the plant's own asset types (see catalog.py)")
    sites: list[SiteConfig] = Field(min_length=1)
    _catalog: Catalog = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _old_calendars(cls, data: Any, info: ValidationInfo) -> Any:
        """A line calendar in the old hours-in-a-period form is converted here, the one place, with a warning."""
        found = [(f"sites[{s}].areas[{a}].lines[{n}].simulation.calendar", (s, a, n), site.get("timezone", "UTC"))
                 for s, site in enumerate(_items(data, "sites")) for a, area in enumerate(_items(site, "areas"))
                 for n, line in enumerate(_items(area, "lines"))
                 if isinstance(line.get("simulation"), dict) and is_period_form(line["simulation"].get("calendar"))]
        if not found:
            return data
        data = copy.deepcopy(data)  # the caller's data stays as it was written
        for where, (s, a, n), zone in found:
            sim = data["sites"][s]["areas"][a]["lines"][n]["simulation"]
            sim["calendar"] = upgrade(sim["calendar"], where, zone, (info.context or {}).get(CONFIG_FILE))
        return data

    @model_validator(mode="after")
    def _types_are_known(self) -> Self:
        try:
            self._catalog = Catalog.resolve(self.asset_types, base=builtin())
        except CatalogError as exc:
            raise ValueError("\n".join(f"asset_types.{path}: {msg}" for path, msg in exc.problems)) from None
        problems: list[str] = []
        for s, site in enumerate(self.sites):
            for a, area in enumerate(site.areas):
                for n, line in enumerate(area.lines):
                    _check_line(line, self._catalog, f"sites[{s}].areas[{a}].lines[{n}]", problems)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def lines(self) -> list[Line]:
        return [
            Line(PATH_SEP.join((self.enterprise, site.id, area.id, line.id)), line, self._catalog)
            for site in self.sites
            for area in site.areas
            for line in area.lines
        ]

    def assets(self) -> list[Asset]:
        return [asset for line in self.lines() for asset in line.assets()]


def _check_line(line: LineConfig, catalog: Catalog, where: str, problems: list[str]) -> None:
    """What the line's shape needs from its assets' roles; each problem starts with its key path."""
    roles: dict[str, AssetRole] = {}
    specs: dict[str, AssetTypeSpec] = {}
    for c, cell in enumerate(line.cells):
        for i, asset in enumerate(cell.assets):
            at = f"{where}.cells[{c}].assets[{i}]"
            if asset.type not in catalog or asset.type in catalog.hidden:
                problems.append(f"{at}.type: unknown asset type {asset.type!r}; known: "
                                f"{', '.join(catalog.assignable())} (or define it under asset_types)")
                continue
            spec = catalog.type(asset.type)
            specs[asset.id], roles[asset.id] = spec, spec.role
            for name, extra in asset.signals.items():
                if name in spec.signals:
                    problems.append(f"{at}.signals.{name}: already a signal of a {asset.type}")
                elif extra.kind.value == "state":
                    problems.append(f"{at}.signals.{name}: the state signal comes from the type")
            if spec.role is AssetRole.BUFFER and asset.capacity is None:
                problems.append(f"{at}.capacity: a buffer needs capacity (parts)")
            if spec.role is not AssetRole.BUFFER and asset.capacity == 0:
                problems.append(f"{at}.capacity: a {asset.type} needs capacity of at least 1")
    entry_buffer = line.simulation.source.kind != "unlimited"  # arrivals may wait in a buffer at the flow's start
    for i, asset_id in enumerate(line.flow):
        role = roles.get(asset_id)
        if role is None:
            continue
        if role is AssetRole.EQUIPMENT:
            problems.append(f"{where}.flow[{i}]: {asset_id!r} is equipment, not in the part flow")
        if line.links:
            continue  # a network's shape is checked on its links
        if role is AssetRole.BUFFER and ((i == 0 and not entry_buffer) or i == len(line.flow) - 1):
            problems.append(f"{where}.flow[{i}]: a buffer cannot start or end the flow")
        if i and role is AssetRole.BUFFER and roles.get(line.flow[i - 1]) is AssetRole.BUFFER:
            problems.append(f"{where}.flow[{i}]: two buffers in a row")
    for asset_id, role in roles.items():
        if role in FLOW_ROLES and asset_id not in line.flow:
            problems.append(f"{where}.flow: asset {asset_id!r} is missing from the flow")
    stations = [a for a in line.flow if roles.get(a) in FLOW_ROLES]
    assets = {a.id: a for c in line.cells for a in c.assets}
    check_network(line, {a: r is AssetRole.BUFFER for a, r in roles.items()},
                  {a: roles[a] is AssetRole.TRANSPORT for a in roles}, assets, where, problems)
    _check_simulation(line, stations, specs, f"{where}.simulation", problems)


def _check_simulation(line: LineConfig, stations: list[str], specs: dict[str, AssetTypeSpec], where: str,
                      problems: list[str]) -> None:
    sim = line.simulation
    order = set(stations)
    ids: set[str] = set()
    for p, product in enumerate(sim.products):
        at = f"{where}.products[{p}]"
        if product.id in ids:
            problems.append(f"{at}.id: product {product.id!r} appears twice")
        ids.add(product.id)
        if product.routing and sim.source.kind == "unlimited" and stations and product.routing[0] != stations[0] \
                and not line.links:
            problems.append(f"{at}.routing[0]: with an unlimited source every product starts at the first "
                            f"station, {stations[0]!r}")
        last: str | None = None
        g = graph(line.flow, line.links)
        for r, station in enumerate(product.routing or []):
            if station not in order:
                problems.append(f"{at}.routing[{r}]: {station!r} is not a station of this line's flow")
                break
            if last is not None and station not in g.reachable(last):
                problems.append(f"{at}.routing[{r}]: {station!r} goes back upstream: a cycle in the routing "
                                "(parts move one way; a rework loop is a station's rework_to)")
                break
            last = station
        for station in product.cycle_times:
            if station not in order:
                problems.append(f"{at}.cycle_times.{station}: not a station of this line's flow")
    for r, release in enumerate(sim.source.releases):
        if release.product is not None and release.product not in ids:
            problems.append(f"{where}.source.releases[{r}].product: unknown product {release.product!r}")
    for f, fault in enumerate(sim.faults):
        at = f"{where}.faults[{f}]"
        if fault.asset not in specs:
            problems.append(f"{at}.asset: {fault.asset!r} is not an asset of this line")
        elif fault.signal is not None and specs[fault.asset].signal(fault.signal) is None:
            problems.append(f"{at}.signal: a {specs[fault.asset].id} has no signal {fault.signal!r}")
    if sim.operators == 0 and any(a.sim.operator_for for c in line.cells for a in c.assets):
        problems.append(f"{where}.operators: stations need operators (operator_for) but the pool is 0")


@dataclass(frozen=True, slots=True)
class Asset:
    """One asset resolved into the hierarchy, with its type from the catalogue."""

    path: str
    line_path: str
    cell: str
    config: AssetConfig
    spec: AssetTypeSpec

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def type(self) -> str:
        return self.config.type

    @property
    def role(self) -> AssetRole:
        return self.spec.role

    @property
    def signals(self) -> tuple[SignalSpec, ...]:
        return tuple(self.spec.signals.values())

    def signal(self, name: str) -> SignalSpec | None:
        return self.spec.signal(name)


@dataclass(frozen=True, slots=True)
class Line:
    path: str
    config: LineConfig
    catalog: Catalog

    def assets(self) -> list[Asset]:
        return [
            Asset(PATH_SEP.join((self.path, cell.id, a.id)), self.path, cell.id, a,
                  self.catalog.type(a.type).with_signals(a.signals))
            for cell in self.config.cells
            for a in cell.assets
        ]

    def asset(self, asset_id: str) -> Asset:
        return next(a for a in self.assets() if a.id == asset_id)
