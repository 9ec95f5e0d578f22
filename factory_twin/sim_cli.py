"""`factory-twin sim run`: replications with a progress bar, a table on stdout, the report as JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from planning.report import report, table
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
            from planning.dask_cluster import dask_executor

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
    from planning.chart import render
    from planning.whatif import load_scenario, plan_total, run_plan, variant_lines

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


def calibrate_from_history(config: Path, history: Path, out: Path, since: str | None, until: str | None,
                           line_id: str | None, predict: int, workers: int | None) -> int:
    """`sim calibrate`: fit, write the calibrated plant and its report, print each fit with its interval."""
    from datetime import datetime

    import yaml

    from historian.sqlite import SqliteHistorian
    from planning.calibrate import calibrate, predicted_throughput, write

    try:
        line = pick_line(config, line_id)
        start = datetime.fromisoformat(since) if since else None
        end = datetime.fromisoformat(until) if until else None
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        return 2
    except ValueError as exc:
        typer.echo(f"--since/--until: {exc}", err=True)
        return 2
    if not history.exists():
        typer.echo(f"{history}: no such historian file", err=True)
        return 2
    store = SqliteHistorian(history, readonly=True)
    try:
        data, rep = calibrate(yaml.safe_load(config.read_text(encoding="utf-8")), line, store, start, end)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        return 1
    finally:
        store.close()
    try:
        plant = PlantConfig.model_validate(data)
    except ValueError as exc:
        typer.echo(f"the calibrated model is not valid: {exc}", err=True)
        return 1
    if predict:
        rep["predicted_throughput_per_hour"] = predicted_throughput(plant, line.config.id, rep["span_h"], predict,
                                                                    1, workers)
    side = write(data, rep, out)
    typer.echo(f"{rep['events']} events over {rep['span_h']:.1f} h, fitted in {rep['calibration_s']:.1f} s")
    for sid, s in rep["stations"].items():
        if "cycle_time" in s:
            c = s["cycle_time"]
            typer.echo(f"  {sid:<12} cycle {c['kind']:<11} mean {c['mean']:9.3f} s  95 % CI "
                       f"{c['mean_ci95'][0]:.3f} .. {c['mean_ci95'][1]:.3f}  (n={c['n']})")
        for reason, f in s["failures"].items():
            if "ttf" in f:
                typer.echo(f"  {sid:<12} {reason}: ttf {f['ttf']['kind']} mean {f['ttf']['mean']:.0f} s "
                           f"[{f['ttf']['mean_ci95'][0]:.0f} .. {f['ttf']['mean_ci95'][1]:.0f}], ttr "
                           f"{f['ttr']['kind']} mean {f['ttr']['mean']:.0f} s [{f['ttr']['mean_ci95'][0]:.0f} .. "
                           f"{f['ttr']['mean_ci95'][1]:.0f}] (n={f['ttf']['n']})")
        if "scrap_rate" in s:
            sc = s["scrap_rate"]
            typer.echo(f"  {sid:<12} scrap {sc['value']:.4f} [{sc['ci95'][0]:.4f} .. {sc['ci95'][1]:.4f}]")
    obs = rep["observed_throughput_per_hour"]
    typer.echo(f"observed throughput {obs['mean']:.2f}/h [{obs['ci95'][0]:.2f} .. {obs['ci95'][1]:.2f}]")
    if predict:
        pr = rep["predicted_throughput_per_hour"]
        typer.echo(f"calibrated model    {pr['mean']:.2f}/h [{pr['ci95'][0]:.2f} .. {pr['ci95'][1]:.2f}]")
    typer.echo(f"written: {out}, {side}")
    return 0
