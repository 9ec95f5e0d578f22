"""The plant model: the ISA-95 hierarchy (enterprise / site / area / line / cell / asset) from YAML.

Every asset is addressed by its ISA-95 path, e.g. ``acme/plant1/machining/line1/turning/cnc-1``; the
same path is the OPC-UA browse path, the MQTT unified-namespace topic prefix and the historian's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from plantmodel.catalog import SIGNALS, AssetType, SignalSpec
from plantmodel.simulation import (
    Dist,
    FailureMode,
    FaultInjection,
    MicroStops,
    PositiveDist,
    Probability,
    Product,
    RandomFaults,
    ShiftCalendar,
    Source,
)

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
PATH_SEP = "/"

#: Asset types that process parts one after another (they have a cycle time and part counters).
STATION_TYPES = frozenset(
    {AssetType.CNC_MACHINE, AssetType.INDUSTRIAL_ROBOT, AssetType.CONVEYOR, AssetType.INSPECTION_STATION}
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    @model_validator(mode="after")
    def _yield_adds_up(self) -> Self:
        if self.scrap_rate + self.rework_rate > 1:
            raise ValueError(f"scrap_rate + rework_rate must not exceed 1; got {self.scrap_rate + self.rework_rate}")
        return self


class AssetConfig(_Strict):
    id: Ident
    type: AssetType
    name: str = ""
    ideal_cycle_time_s: float | None = Field(None, gt=0)
    capacity: int | None = Field(None, ge=0, description="buffer size (0: hand-over), AGV load or parts on a belt")
    sim: StationSim = StationSim()

    @model_validator(mode="after")
    def _required_by_type(self) -> Self:
        if self.type in STATION_TYPES and self.ideal_cycle_time_s is None:
            raise ValueError(f"a {self.type} needs ideal_cycle_time_s (seconds per part)")
        if self.type in (AssetType.BUFFER, AssetType.AGV) and self.capacity is None:
            raise ValueError(f"a {self.type} needs capacity (parts)")
        if self.type is not AssetType.BUFFER and self.capacity == 0:
            raise ValueError(f"a {self.type} needs capacity of at least 1")
        if self.type is AssetType.AGV and self.ideal_cycle_time_s is None:
            raise ValueError("an agv needs ideal_cycle_time_s (seconds for one trip)")
        return self


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
    calendar: ShiftCalendar | None = Field(None, description="shift pattern; none: the line runs around the clock")
    operators: int | None = Field(None, ge=0, description="operators shared by the line's stations")
    faults: list[FaultInjection] = Field([], description="faults injected into the signals at set times")
    random_faults: RandomFaults | None = None


class LineConfig(_Strict):
    id: Ident
    name: str = ""
    cells: list[CellConfig] = Field(min_length=1)
    flow: list[Ident] = Field(min_length=1, description="asset ids in the order parts move through them")
    simulation: SimulationConfig = SimulationConfig()

    @model_validator(mode="after")
    def _flow_is_consistent(self) -> Self:
        types: dict[str, AssetType] = {}
        for cell in self.cells:
            for asset in cell.assets:
                if asset.id in types:
                    raise ValueError(f"asset id {asset.id!r} appears twice in line {self.id!r}")
                types[asset.id] = asset.type
        seen: set[str] = set()
        for i, asset_id in enumerate(self.flow):
            if asset_id not in types:
                raise ValueError(f"flow[{i}]: {asset_id!r} is not an asset of this line")
            if asset_id in seen:
                raise ValueError(f"flow[{i}]: {asset_id!r} appears twice in the flow")
            seen.add(asset_id)
            if types[asset_id] is AssetType.BUFFER and (i == 0 or i == len(self.flow) - 1):
                raise ValueError(f"flow[{i}]: a buffer cannot start or end the flow")
            if i and types[asset_id] is AssetType.BUFFER and types[self.flow[i - 1]] is AssetType.BUFFER:
                raise ValueError(f"flow[{i}]: two buffers in a row")
        for asset_id, t in types.items():
            if t in STATION_TYPES | {AssetType.AGV} and asset_id not in seen:
                raise ValueError(f"asset {asset_id!r} is missing from the flow")
        self._check_products([a for a in self.flow if types[a] is not AssetType.BUFFER])
        return self

    def _check_products(self, stations: list[str]) -> None:
        order = {s: i for i, s in enumerate(stations)}
        where = "simulation.products"
        ids: set[str] = set()
        for p, product in enumerate(self.simulation.products):
            if product.id in ids:
                raise ValueError(f"{where}[{p}].id: product {product.id!r} appears twice")
            ids.add(product.id)
            if product.routing and self.simulation.source.kind == "unlimited" and product.routing[0] != stations[0]:
                raise ValueError(f"{where}[{p}].routing[0]: with an unlimited source every product starts at the"
                                 f" first station, {stations[0]!r}")
            last = -1
            for r, station in enumerate(product.routing or []):
                if station not in order:
                    raise ValueError(f"{where}[{p}].routing[{r}]: {station!r} is not a station of this line's flow")
                if order[station] <= last:
                    raise ValueError(f"{where}[{p}].routing[{r}]: {station!r} goes back upstream: a cycle in the"
                                     " routing (a serial line moves parts one way)")
                last = order[station]
            for station in product.cycle_times:
                if station not in order:
                    raise ValueError(f"{where}[{p}].cycle_times.{station}: not a station of this line's flow")
        for r, release in enumerate(self.simulation.source.releases):
            if release.product is not None and release.product not in ids:
                raise ValueError(f"simulation.source.releases[{r}].product: unknown product {release.product!r}")
        assets = {a.id: a for c in self.cells for a in c.assets}
        for f, fault in enumerate(self.simulation.faults):
            where = f"simulation.faults[{f}]"
            if fault.asset not in assets:
                raise ValueError(f"{where}.asset: {fault.asset!r} is not an asset of this line")
            if fault.signal is not None and not any(s.name == fault.signal for s in SIGNALS[assets[fault.asset].type]):
                raise ValueError(f"{where}.signal: a {assets[fault.asset].type} has no signal {fault.signal!r}")
        if self.simulation.operators == 0 and any(
                a.sim.operator_for for c in self.cells for a in c.assets):
            raise ValueError("simulation.operators: stations need operators (operator_for) but the pool is 0")


class AreaConfig(_Strict):
    id: Ident
    name: str = ""
    lines: list[LineConfig] = Field(min_length=1)


class SiteConfig(_Strict):
    id: Ident
    name: str = ""
    timezone: str = "UTC"
    areas: list[AreaConfig] = Field(min_length=1)


class PlantConfig(_Strict):
    enterprise: Ident
    sites: list[SiteConfig] = Field(min_length=1)

    def lines(self) -> list[Line]:
        return [
            Line(PATH_SEP.join((self.enterprise, site.id, area.id, line.id)), line)
            for site in self.sites
            for area in site.areas
            for line in area.lines
        ]

    def assets(self) -> list[Asset]:
        return [asset for line in self.lines() for asset in line.assets()]


@dataclass(frozen=True, slots=True)
class Asset:
    """One asset resolved into the hierarchy, with the signals its type carries."""

    path: str
    line_path: str
    cell: str
    config: AssetConfig

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def type(self) -> AssetType:
        return self.config.type

    @property
    def signals(self) -> tuple[SignalSpec, ...]:
        return SIGNALS[self.config.type]


@dataclass(frozen=True, slots=True)
class Line:
    path: str
    config: LineConfig

    def assets(self) -> list[Asset]:
        return [
            Asset(PATH_SEP.join((self.path, cell.id, a.id)), self.path, cell.id, a)
            for cell in self.config.cells
            for a in cell.assets
        ]

    def asset(self, asset_id: str) -> Asset:
        return next(a for a in self.assets() if a.id == asset_id)
