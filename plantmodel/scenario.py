"""What-if studies of a line: variants as changes by key path, and the state a study may start from.

Shared by the planner (``factory-twin sim plan``), the simulator (which starts a run from a `LineStart`)
and the twin (which validates a study before queueing it, and turns its live state into a `LineStart`).
Pure data: nothing here runs a simulation.

A key starts with an asset id (then its fields, e.g. ``buf-2.capacity``, ``cnc-1.sim.mtbf_s``) or with
``simulation`` (e.g. ``simulation.calendar``, ``simulation.products``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from plantmodel.plant import Line, PlantConfig
from plantmodel.shifts import REFERENCE_MONDAY


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(_Strict):
    name: str = Field(min_length=1)
    set: dict[str, Any] = Field(min_length=1, description="key path -> new value")


class Sweep(_Strict):
    key: str
    values: list[Any] = Field(min_length=1)


class WhatIf(_Strict):
    """A study of one line of a plant model: the baseline and every variant, run with the same seeds."""

    line: str | None = Field(None, description="line id; default: the plant's first line")
    hours: float = Field(40.0, gt=0)
    warmup_h: float | None = Field(None, ge=0)
    replications: int = Field(10, ge=2)
    seed: int = Field(1, ge=0, lt=2**63)
    simulate_top: int | None = Field(None, ge=1, description="simulate only the best N variants by estimate")
    variants: list[Variant] = []
    sweeps: list[Sweep] = []

    def changes(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(variant name, where it was written, key path -> value) for every variant and sweep value."""
        out = [(v.name, f"variants[{i}].set", v.set) for i, v in enumerate(self.variants)]
        for i, sweep in enumerate(self.sweeps):
            out += [(f"{sweep.key}={value}", f"sweeps[{i}].key", {sweep.key: value}) for value in sweep.values]
        return out


class StationStart(_Strict):
    """How a station is when a run starts, as far as the run needs to know."""

    down_for_s: float | None = Field(None, ge=0, description="under repair, for this long already; none: working")
    since_failure_s: float | None = Field(None, ge=0, description="time since its last failure ended; none: "
                                          "unknown, its failure clocks start as new")
    wear_age_s: float | None = Field(None, ge=0, description="operating seconds since its wear-out part was last "
                                     "renewed (replaced, or repaired after failing); ages its wear clocks only")
    wear_remaining_s: float | None = Field(None, gt=0, description="an estimate of the wear part's remaining "
                                           "operating life (an RUL estimate); its wear clocks draw their remaining "
                                           "life around it, with `wear_remaining_cv`")
    wear_remaining_cv: float = Field(0.3, ge=0, le=3, description="relative spread of that estimate (lognormal)")


class LineStart(_Strict):
    """A run's initial conditions, by asset id: parts waiting in buffers, stations down or aged."""

    buffers: dict[str, int] = Field(default_factory=dict, description="buffer id -> parts in it")
    stations: dict[str, StationStart] = Field(default_factory=dict)
    origin: datetime | None = Field(None, description="the plant instant the run begins at, ISO 8601 (e.g. "
                                    "2026-03-10T09:40:00+01:00; without an offset, read in the shift calendar's time "
                                    "zone); none: a Monday at 00:00 (plantmodel.shifts.REFERENCE_MONDAY)")

    @model_validator(mode="before")
    @classmethod
    def _clock_s(cls, data: Any) -> Any:
        """The older `clock_s` (seconds after a Monday 00:00, so a time of day for daily shifts) is still read
        (saved requests carry it), as the origin it means."""
        if isinstance(data, dict) and "clock_s" in data:
            data = dict(data)
            clock_s = data.pop("clock_s")
            if clock_s is not None and data.get("origin") is None:
                if not isinstance(clock_s, int | float) or isinstance(clock_s, bool) or not 0 <= clock_s < 1e9:
                    raise ValueError(f"clock_s: expected seconds after a Monday 00:00 (0 or more); got {clock_s!r}")
                data["origin"] = REFERENCE_MONDAY + timedelta(seconds=clock_s)
        return data


class DecisionSettings(BaseModel):
    """How a maintenance decision's options are built and judged (planning.decide; the twin's `decisions:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    horizon_h: float = Field(24.0, gt=0, le=720, description="hours each option is simulated ahead")
    batch: int = Field(8, ge=2, le=100, description="replications per option added at a time")
    max_replications: int = Field(48, ge=2, le=1000)
    max_wall_s: float = Field(50.0, gt=0, description="stop adding replications after this long")
    planned_share: float = Field(0.5, gt=0, le=1, description="a planned replacement's share of the mean repair")
    reduced_speed: float = Field(0.8, gt=0, lt=1, description="speed of the reduced-speed option (share)")
    wear_speed_exponent: float = Field(3.0, ge=0, description="wear per operating second grows as speed ** this")
    max_events_per_run: int = Field(20_000_000, ge=1000)
    indifference_share: float = Field(0.01, ge=0, le=1, description="options whose good output differs by less "
                                      "than this share of running on's (95 % interval inside it) are equivalent")


class ScenarioError(ValueError):
    """Variants that do not make a valid line; `problems` name the variant and the key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def variant_lines(plant: PlantConfig, study: WhatIf) -> tuple[Line, list[tuple[str, Line]]]:
    """The baseline line and every variant's, each validated like any plant file."""
    data = plant.model_dump(mode="json", exclude_defaults=True)
    lines = plant.lines()
    index = 0 if study.line is None else next((i for i, ln in enumerate(lines) if ln.config.id == study.line), -1)
    if index < 0:
        raise ScenarioError([f"line: {study.line!r} is not a line of the plant; have "
                             f"{[ln.config.id for ln in lines]}"])
    out: list[tuple[str, Line]] = []
    for name, where, sets in study.changes():
        tree = _copy(data)
        line_data = [ln for site in tree["sites"] for area in site["areas"] for ln in area["lines"]][index]
        for key, value in sets.items():
            try:
                _set(line_data, key, value)
            except KeyError as exc:
                raise ScenarioError([f"{where}.{key}: {exc.args[0]}"]) from None
        try:
            varied = PlantConfig.model_validate(tree).lines()[index]
        except ValidationError as exc:
            raise ScenarioError([f"{where} (variant {name!r}): {'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors()]) from None
        out.append((name, varied))
    return lines[index], out


def _set(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set `value` at dotted `key` inside one line's data: an asset id first, or 'simulation'."""
    head, _, rest = key.partition(".")
    if head == "simulation":
        target: dict[str, Any] = tree.setdefault("simulation", {})
    else:
        found = [a for c in tree["cells"] for a in c["assets"] if a["id"] == head]
        if not found:
            raise KeyError(f"{head!r} is neither an asset of the line nor 'simulation'")
        target = found[0]
    parts = rest.split(".") if rest else []
    if not parts:
        raise KeyError("name a field after the asset id, e.g. cnc-1.sim.mttr_s")
    for part in parts[:-1]:
        inner = target.get(part)
        if inner is None:
            inner = target[part] = {}
        if not isinstance(inner, dict):
            raise KeyError(f"{part!r} holds no fields")
        target = inner
    target[parts[-1]] = value


def _copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data
