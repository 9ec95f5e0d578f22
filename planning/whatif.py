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

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from planning.line_estimate import LineEstimate, estimate
from planning.report import report
from plantmodel.config import ConfigError, load_config
from plantmodel.plant import Line, PlantConfig
from plantmodel.scenario import LineStart, ScenarioError, Sweep, Variant, WhatIf
from plantmodel.scenario import variant_lines as apply_variants
from simulators.flow.estimate import mean_ci
from simulators.flow.replications import replicate

__all__ = ["PlanScenario", "Sweep", "Variant", "compare", "load_scenario", "run_plan", "variant_lines"]


class PlanScenario(WhatIf):
    plant: Path = Field(description="plant model YAML, relative to the scenario file")


def variant_lines(path: Path, scenario: PlanScenario) -> tuple[Line, list[tuple[str, Line]]]:
    """The baseline line and every variant's, each validated like any plant file; errors name the variant."""
    plant = load_config(path.parent / scenario.plant, PlantConfig)
    try:
        return apply_variants(plant, scenario)
    except ScenarioError as exc:
        raise ConfigError(path, exc.problems) from None


def compare(baseline: list[dict[str, Any]], variant: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput of a variant and its paired difference to the baseline (replication r against r)."""
    tp = [r["throughput_per_hour"] for r in variant]
    delta = [v["throughput_per_hour"] - b["throughput_per_hour"] for v, b in zip(variant, baseline, strict=True)]
    return {"throughput_per_hour": mean_ci(tp), "delta_vs_baseline": mean_ci(delta),
            "wip_mean": sum(r["wip_mean"] for r in variant) / len(variant),
            "lead_time_mean_s": sum(r["flow_time_mean_s"] for r in variant) / len(variant)}


def load_scenario(path: Path) -> PlanScenario:
    return load_config(path, PlanScenario)


def estimates(lines: list[tuple[str, Line]]) -> dict[str, LineEstimate]:
    return {name: estimate(line) for name, line in lines}


def plan_total(scenario: WhatIf, variants: list[tuple[str, Line]]) -> int:
    """Replications a plan runs: the baseline's and those of every variant it simulates."""
    simulated = min(scenario.simulate_top or len(variants), len(variants))
    return (1 + simulated) * scenario.replications


def run_plan(scenario: WhatIf, baseline: Line, variants: list[tuple[str, Line]], *, workers: int | None = None,
             progress: Callable[[int], None] | None = None, start: LineStart | None = None,
             max_events: int | None = None) -> dict[str, Any]:
    """Estimate every variant, simulate the baseline and the best ones: what `sim plan` prints and writes.

    Each simulated variant also carries its line KPIs with 95 % intervals (WIP, lead time, per-station OEE).
    """
    est = {name: estimate(line)["throughput_per_hour"] for name, line in variants}
    chosen = sorted(variants, key=lambda v: -est[v[0]])[: scenario.simulate_top or len(variants)]
    chosen_names = {name for name, _ in chosen}
    todo = [("baseline", baseline), *[(n, ln) for n, ln in variants if n in chosen_names]]
    results: dict[str, list[dict[str, Any]]] = {}
    for name, line in todo:
        results[name] = replicate(line, scenario.hours, scenario.replications, scenario.seed, workers=workers,
                                  warmup_h=scenario.warmup_h, progress=progress, start=start,
                                  max_events=max_events)
    rows: list[dict[str, Any]] = [{"name": "baseline", "estimate": estimate(baseline)["throughput_per_hour"],
                                   "sim": compare(results["baseline"], results["baseline"])["throughput_per_hour"],
                                   "kpis": _kpis(results["baseline"], scenario)}]
    for name, _ in variants:
        row: dict[str, Any] = {"name": name, "estimate": est[name]}
        if name in results:
            cmp = compare(results["baseline"], results[name])
            row |= {"sim": cmp["throughput_per_hour"], "delta_vs_baseline": cmp["delta_vs_baseline"],
                    "wip_mean": cmp["wip_mean"], "lead_time_mean_s": cmp["lead_time_mean_s"],
                    "kpis": _kpis(results[name], scenario)}
        rows.append(row)
    return {"line": baseline.path, "hours": scenario.hours, "replications": scenario.replications,
            "seed": scenario.seed, "variants": rows}


def _kpis(results: list[dict[str, Any]], scenario: WhatIf) -> dict[str, Any]:
    rep = report(results, hours=scenario.hours, seed=scenario.seed)
    return {"wip_mean": rep["wip_mean"], "wip_ci95": rep["wip_ci95"], "lead_time_mean_s": rep["lead_time_mean_s"],
            "lead_time_ci95_s": rep["lead_time_ci95_s"], "bottleneck": rep["bottleneck"]["station"],
            "oee": {sid: {"oee": st["oee"], "ci95": st["oee_ci95"], "availability": st["availability"],
                          "performance": st["performance"], "quality": st["quality"]}
                    for sid, st in rep["stations"].items()}}
