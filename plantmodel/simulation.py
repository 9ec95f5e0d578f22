"""What the planning simulator needs beyond the plant hierarchy: distributions, failures, products.

Every time is in seconds unless its name says otherwise. A distribution is written either as a bare
number (a fixed value) or as a mapping::

    cycle_time: 38                                    # fixed
    cycle_time: {kind: lognormal, mean: 38, cv: 0.1}
    ttr: {kind: weibull, mean: 300, shape: 1.5}
    cycle_time: {kind: empirical, values: [37.2, 38.0, 41.5]}   # resampled from measured cycles

Impossible values are refused here, before anything runs, with the key path that holds them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DistKind = Literal["fixed", "exponential", "normal", "lognormal", "weibull", "empirical", "geometric"]


class Distribution(_Strict):
    """A non-negative random duration (or count, for cycle-based failures)."""

    kind: DistKind = "fixed"
    mean: float | None = Field(None, ge=0, description="mean value; every kind but empirical needs it")
    cv: float = Field(0.0, ge=0, description="coefficient of variation (normal, lognormal)")
    shape: float = Field(1.0, gt=0, description="Weibull shape k (1: exponential, >1: wear-out)")
    values: list[Annotated[float, Field(ge=0)]] | None = Field(None, min_length=1, description="empirical samples")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "empirical":
            if self.values is None:
                raise ValueError("an empirical distribution needs values (the measured samples)")
        elif self.mean is None:
            raise ValueError(f"a {self.kind} distribution needs mean")
        if self.kind == "geometric" and self.mean is not None and self.mean < 1:
            raise ValueError("a geometric distribution counts cycles: mean must be at least 1")
        return self

    @property
    def expected(self) -> float:
        if self.kind == "empirical":
            assert self.values is not None
            return sum(self.values) / len(self.values)
        assert self.mean is not None
        return self.mean


def _number_is_fixed(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"kind": "fixed", "mean": value}
    return value


def _positive_mean(dist: Distribution) -> Distribution:
    if dist.expected <= 0:
        raise ValueError("the mean must be greater than 0 (a zero time would repeat forever at one instant)")
    return dist


Dist = Annotated[Distribution, BeforeValidator(_number_is_fixed)]
#: A duration that must take time on average: cycles, times to failure, interarrival times.
PositiveDist = Annotated[Distribution, BeforeValidator(_number_is_fixed), AfterValidator(_positive_mean)]
Probability = Annotated[float, Field(ge=0, le=1)]


class FailureMode(_Strict):
    """One way a machine fails: how long (operating time or cycles) until it does, how long the repair takes.

    Failures are operation-dependent: the clock runs only while the machine works.
    """

    reason: str = Field("F000", min_length=1, description="alarm code recorded with every failure")
    basis: Literal["time", "cycles"] = "time"
    ttf: PositiveDist = Field(description="operating seconds (basis time) or cycles (basis cycles) to failure")
    ttr: Dist = Field(description="seconds to repair")
    wear: Literal["bearing"] | None = Field(None, description="a wear-out failure: signals show the wear coming")


class MicroStops(_Strict):
    """Short stops that lengthen a cycle (a performance loss, not a failure)."""

    probability: Probability = Field(description="chance per cycle")
    duration: Dist


class Product(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
    share: float = Field(1.0, gt=0, description="relative share of releases (normalised over products)")
    lot_size: int = Field(1, ge=1, description="parts released one after another each time this product is drawn")
    routing: list[str] | None = Field(None, min_length=1, description="stations it visits, in order; default all")
    cycle_times: dict[str, PositiveDist] = Field({}, description="per-station cycle time for this product")


class Release(_Strict):
    at_h: float = Field(ge=0)
    product: str | None = None
    quantity: int = Field(1, ge=1)


class Source(_Strict):
    """Where parts come from: unlimited supply (the first station never starves), random arrivals or a schedule."""

    kind: Literal["unlimited", "arrivals", "schedule"] = "unlimited"
    interarrival: PositiveDist | None = None
    releases: list[Release] = []
    queue_capacity: int | None = Field(None, ge=0, description="parts waiting at the line's entry; none: unlimited"
                                       "; arrivals finding it full are lost")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "arrivals" and self.interarrival is None:
            raise ValueError("a source of kind arrivals needs interarrival")
        if self.kind == "schedule" and not self.releases:
            raise ValueError("a source of kind schedule needs releases")
        return self


SplitRule = Literal["first_free", "round_robin", "random", "shortest_queue"]


class Distance(_Strict):
    """Metres between two places a vehicle drives to: node ids of the flow, or `charger`."""

    between: tuple[str, str]
    m: float = Field(ge=0)


class Battery(_Strict):
    """A vehicle's battery: drained by driving, charged at the charger when it falls below `low_pct`."""

    capacity_wh: float = Field(gt=0)
    consumption_wh_per_m: float = Field(ge=0, description="energy per metre driven")
    charge_w: float = Field(gt=0, description="charging power")
    low_pct: float = Field(20.0, ge=0, lt=100, description="goes to charge after a delivery below this")
    full_pct: float = Field(90.0, gt=0, le=100, description="charges up to this")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.full_pct <= self.low_pct:
            raise ValueError("full_pct must be above low_pct")
        return self


class Fleet(_Strict):
    """Transport by N vehicles: a dispatcher gives each waiting part to a vehicle by rule.

    Travel times are distance / speed from the table; a leg missing from it takes one trip of the
    asset's cycle time (its `ideal_cycle_time_s`, or `sim.cycle_time`).
    """

    vehicles: int = Field(1, ge=1, le=1000)
    dispatch: Literal["first_idle", "nearest"] = Field("first_idle", description="first_idle: the vehicle idle "
                                                        "longest; nearest: the idle vehicle closest to the pickup")
    speed_m_s: float = Field(1.0, gt=0)
    distances: list[Distance] = []
    load_s: float = Field(0.0, ge=0, description="time to load or unload")
    battery: Battery | None = None


FaultKind = Literal["bearing_fault", "coolant_loss", "sensor_drift", "stuck_sensor", "spikes"]


class FaultInjection(_Strict):
    """A fault put into the signals on purpose, written to the labels beside the data as ground truth."""

    asset: str
    kind: FaultKind
    signal: str | None = Field(None, description="default: the signal the fault shows in first")
    start_h: float = Field(ge=0)
    duration_h: float = Field(gt=0)
    magnitude: float = Field(1.0, gt=0, description="relative size (a drift of 1 ends ten times the sensor's noise "
                                                    "away; in the signal's units if it has no noise)")


class RandomFaults(_Strict):
    per_day: float = Field(gt=0, description="expected faults per simulated day over the whole line")
    kinds: list[FaultKind] = Field(["bearing_fault", "coolant_loss", "sensor_drift", "stuck_sensor", "spikes"],
                                   min_length=1)
    duration_h: Dist = Field(default_factory=lambda: Distribution(kind="exponential", mean=2.0))
    magnitude: float = Field(1.0, gt=0)
