"""`factory-twin sim run`: replications with a progress bar, a table on stdout, the report as JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from factory_twin.sim_report import report, table
from plantmodel.config import ConfigError, load_config
from plantmodel.plant import Line, PlantConfig
from simulators.flow.replications import replicate


def pick_line(config: Path, line_id: str | None) -> Line:
    plant = load_config(config, PlantConfig)
    lines = plant.lines()
    if line_id is None:
        return lines[0]
    for line in lines:
        if line.config.id == line_id:
            return line
    raise ConfigError(config, [f"--line {line_id!r}: no such line; have {[ln.config.id for ln in lines]}"])


@contextmanager
def progress_bar(total: int, what: str) -> Iterator[Callable[[int], None]]:
    """A bar on stderr when it is a terminal (long runs); silent otherwise, so pipes get clean output."""
    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


def run_and_report(config: Path, hours: float, replications: int, seed: int, workers: int | None,
                   warmup: float | None, line_id: str | None, json_out: Path | None, dask: str | None = None) -> int:
    try:
        line = pick_line(config, line_id)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        return 2
    with ExitStack() as stack:
        executor = None
        if dask:
            from factory_twin.sim_dask import dask_executor

            executor, workers = stack.enter_context(dask_executor(dask, workers))
        advance = stack.enter_context(progress_bar(replications, "replications"))
        results = replicate(line, hours, replications, seed, workers=workers, warmup_h=warmup, progress=advance,
                            executor=executor)
    rep = report(results, hours=hours, seed=seed)
    rep["line"] = line.path
    typer.echo(table(rep))
    if json_out:
        json_out.write_bytes(orjson.dumps(rep, option=orjson.OPT_INDENT_2))
    return 0


def plan(scenario_path: Path, workers: int | None, out_dir: Path | None) -> int:
    """Estimate every variant, simulate the baseline and the chosen variants, print, write JSON and HTML."""
    from factory_twin.plan_chart import render
    from factory_twin.sim_plan import load_scenario, plan_total, run_plan, variant_lines

    try:
        scenario = load_scenario(scenario_path)
        baseline, variants = variant_lines(scenario_path, scenario)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        return 2
    with progress_bar(plan_total(scenario, variants), "replications") as advance:
        result = run_plan(scenario, baseline, variants, workers=workers, progress=advance)
    rows = result["variants"]
    typer.echo(f"{'variant':<34}{'estimate/h':>11}{'simulated/h':>13}{'95% CI':>18}{'vs baseline':>13}{'95% CI':>18}")
    for r in rows:
        sim, delta = r.get("sim"), r.get("delta_vs_baseline")
        line_out = f"{r['name'][:33]:<34}{r['estimate']:>11.1f}"
        if sim:
            low, high = sim["ci95"]
            line_out += f"{sim['mean']:>13.1f}{f'{low:.1f}..{high:.1f}':>18}"
        if delta:
            low, high = delta["ci95"]
            line_out += f"{delta['mean']:>+13.1f}{f'{low:+.1f}..{high:+.1f}':>18}"
        typer.echo(line_out)
    out_dir = out_dir or Path(f"{scenario_path.stem}-plan")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plan.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    (out_dir / "plan.html").write_text(render(result), encoding="utf-8")
    typer.echo(f"written: {out_dir / 'plan.json'}, {out_dir / 'plan.html'}")
    return 0
