"""The twin's planner: a planning job's request run by the line simulator, as `sim plan` runs a scenario file.

`plan_job` is the `twin.plan_request.Planner` that `factory-twin` hands the twin: the twin never imports this
package; the job's worker process imports it by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planning.whatif import plan_total, run_plan
from plantmodel.plant import PlantConfig
from plantmodel.scenario import LineStart, WhatIf, variant_lines

Progress = Callable[[int, int], None]  # (done, total): the signature of twin.plan_request.Progress


def plan_job(request: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """The same result as `factory-twin sim plan` for the same plant and study; replications one after another
    (the twin bounds how many jobs run at once). A request of kind `decision` evaluates a maintenance decision
    (`planning.decide`) instead."""
    if request.get("kind") == "decision":
        return decide_job(request, progress)
    plant = PlantConfig.model_validate(request["plant"])
    study = WhatIf.model_validate(request["scenario"])
    start = LineStart.model_validate(request["start"]) if request.get("start") is not None else None
    baseline, variants = variant_lines(plant, study)
    total, done = plan_total(study, variants), 0
    progress(0, total)

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    limits = request.get("limits") or {}
    return run_plan(study, baseline, variants, workers=1, progress=advance, start=start,
                    max_events=limits.get("max_events_per_run"))


def decide_job(request: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Every option of a maintenance decision, simulated from the live start the twin captured."""
    from planning.decide import evaluate
    from plantmodel.scenario import DecisionSettings

    plant = PlantConfig.model_validate(request["plant"])
    line = next(ln for ln in plant.lines() if ln.config.id == request["line"])
    settings = DecisionSettings.model_validate(request["settings"])
    limits = request.get("limits") or {}
    if limits.get("max_events_per_run"):
        settings = settings.model_copy(update={"max_events_per_run": limits["max_events_per_run"]})
    return evaluate(line, LineStart.model_validate(request["start"]), request["asset"], settings,
                    seed=int(request.get("seed", 1)), progress=progress)
