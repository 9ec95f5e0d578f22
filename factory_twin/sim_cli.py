"""`factory-twin sim run`: replications with a progress bar, a table on stdout, the report as JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
                   warmup: float | None, line_id: str | None, json_out: Path | None) -> int:
    try:
        line = pick_line(config, line_id)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        return 2
    with progress_bar(replications, "replications") as advance:
        results = replicate(line, hours, replications, seed, workers=workers, warmup_h=warmup, progress=advance)
    rep = report(results, hours=hours, seed=seed)
    rep["line"] = line.path
    typer.echo(table(rep))
    if json_out:
        json_out.write_bytes(orjson.dumps(rep, option=orjson.OPT_INDENT_2))
    return 0
