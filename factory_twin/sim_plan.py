"""`factory-twin sim plan SCENARIO`: what-if variants of a line against its baseline, estimated and simulated.

A scenario names a plant file, the run length and the variants, each a set of changes by key path::

    plant: demo-plant.yaml          # relative to this file
    hours: 40
    replications: 10
    variants:
      - name: second milling centre
        set: {cnc-2.sim.parallel: 2}
      - name: faster repairs on cnc-2
        set: {cnc-2.sim.mttr_s: 120}
    sweeps:                          # one variant per value
      - {key: buf-1.capacity, values: [2, 4, 16]}

A key starts with an asset id (then its fields, e.g. ``buf-2.capacity``, ``cnc-1.sim.mtbf_s``) or with
``simulation`` (e.g. ``simulation.calendar``, ``simulation.products``). Every variant runs with the
same seeds as the baseline (common random numbers), so the difference to the baseline has a tighter
interval than either result alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factory_twin.line_estimate import estimate
from plantmodel.config import ConfigError, load_config
from plantmodel.plant import Line, PlantConfig
from simulators.flow.estimate import mean_ci


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(_Strict):
    name: str = Field(min_length=1)
    set: dict[str, Any] = Field(min_length=1, description="key path -> new value")


class Sweep(_Strict):
    key: str
    values: list[Any] = Field(min_length=1)


class PlanScenario(_Strict):
    plant: Path
    line: str | None = None
    hours: float = Field(40.0, gt=0)
    warmup_h: float | None = Field(None, ge=0)
    replications: int = Field(10, ge=2)
    seed: int = 1
    simulate_top: int | None = Field(None, ge=1, description="simulate only the best N variants by estimate")
    variants: list[Variant] = []
    sweeps: list[Sweep] = []


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


def variant_lines(path: Path, scenario: PlanScenario) -> tuple[Line, list[tuple[str, Line]]]:
    """The baseline line and every variant's, each validated like any plant file; errors name the variant."""
    plant = load_config(path.parent / scenario.plant, PlantConfig)
    data = plant.model_dump(mode="json", exclude_defaults=True)
    lines = plant.lines()
    index = 0 if scenario.line is None else next(
        (i for i, ln in enumerate(lines) if ln.config.id == scenario.line), -1)
    if index < 0:
        raise ConfigError(path, [f"line: {scenario.line!r} is not a line of {scenario.plant}"])
    changes: list[tuple[str, str, dict[str, Any]]] = [(v.name, f"variants[{i}].set", v.set)
                                                       for i, v in enumerate(scenario.variants)]
    for i, sweep in enumerate(scenario.sweeps):
        changes += [(f"{sweep.key}={value}", f"sweeps[{i}].key", {sweep.key: value}) for value in sweep.values]
    out: list[tuple[str, Line]] = []
    for name, where, sets in changes:
        tree = _copy(data)
        line_data = _line_data(tree, index)
        for key, value in sets.items():
            try:
                _set(line_data, key, value)
            except KeyError as exc:
                raise ConfigError(path, [f"{where}.{key}: {exc.args[0]}"]) from None
        try:
            varied = PlantConfig.model_validate(tree).lines()[index]
        except ValidationError as exc:
            problems = [f"{where} (variant {name!r}): {'.'.join(map(str, e['loc']))}: {e['msg']}"
                        for e in exc.errors()]
            raise ConfigError(path, problems) from None
        out.append((name, varied))
    return lines[index], out


def _copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


def _line_data(tree: dict[str, Any], index: int) -> dict[str, Any]:
    lines = [ln for site in tree["sites"] for area in site["areas"] for ln in area["lines"]]
    return lines[index]


def compare(baseline: list[dict[str, Any]], variant: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput of a variant and its paired difference to the baseline (replication r against r)."""
    tp = [r["throughput_per_hour"] for r in variant]
    delta = [v["throughput_per_hour"] - b["throughput_per_hour"] for v, b in zip(variant, baseline, strict=True)]
    return {"throughput_per_hour": mean_ci(tp), "delta_vs_baseline": mean_ci(delta),
            "wip_mean": sum(r["wip_mean"] for r in variant) / len(variant),
            "lead_time_mean_s": sum(r["flow_time_mean_s"] for r in variant) / len(variant)}


def load_scenario(path: Path) -> PlanScenario:
    return load_config(path, PlanScenario)


def estimates(lines: list[tuple[str, Line]]) -> dict[str, dict[str, Any]]:
    return {name: estimate(line) for name, line in lines}
