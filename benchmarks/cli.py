"""`factory-twin bench NAME`: the benchmarks' commands, run from a source checkout (the image has none).

`factory_twin.cli` hands `factory-twin bench ...` to `bench_app` here, importing this module only then.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from factory_twin.cli import PLANT_YAML, _fail
from factory_twin.runtime import setup_logging
from plantmodel.config import ConfigError

bench_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="Benchmarks: start what they need on loopback, print a table.")
_LOAD_AT_START: list[float] | None = None  # the load average when a benchmark began, for its result file


@bench_app.callback()
def _bench_started() -> None:
    global _LOAD_AT_START
    import os

    _LOAD_AT_START = [round(x, 2) for x in os.getloadavg()]


@bench_app.command("pipeline")
def bench_pipeline(
    seconds: Annotated[float, typer.Option(help="wall seconds the plant produces")] = 20.0,
    speed: Annotated[float, typer.Option(help="simulated seconds per wall second")] = 1.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """The demo's whole path: time to live state, samples per second through the agent, produced vs stored."""
    import tempfile

    from benchmarks.bench_pipeline import pipeline

    setup_logging("error")
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        result = asyncio.run(pipeline(seconds, speed, Path(tmp)))
    _table(result, json_out)


@bench_app.command("ingest")
def bench_ingest(
    source: Annotated[str, typer.Option(help="mqtt or opcua")] = "mqtt",
    seconds: Annotated[float, typer.Option(min=1, help="how long the load runs")] = 20.0,
    rate: Annotated[float, typer.Option(help="mqtt: messages per second offered")] = 4000.0,
    fields: Annotated[int, typer.Option(min=1, help="mqtt: values per message (1: {ts, value} per topic)")] = 10,
    topics: Annotated[int, typer.Option(min=1, help="mqtt: topics the messages go round (1,000: m0/s0..m99/s9)")]
    = 20,
    qos: Annotated[int, typer.Option(min=0, max=1, help="mqtt: QoS of the load and of the agent's subscription")] = 1,
    protocol: Annotated[str, typer.Option(help="mqtt: the agent's MQTT protocol, 5 or 3.1.1")] = "5",
    agents: Annotated[int, typer.Option(min=1, help="mqtt: agent processes sharing one MQTT 5 shared subscription")]
    = 1,
    variables: Annotated[int, typer.Option(help="opcua: variables the server keeps changing")] = 1000,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Source -> agent -> TSDB end to end, every process separate on loopback, counted in the TSDB as sets."""
    from benchmarks.bench_ingest import ingest_mqtt, ingest_opcua

    if source not in ("mqtt", "opcua"):
        raise typer.BadParameter("expected mqtt or opcua", param_hint="--source")
    if protocol not in ("5", "3.1.1"):
        raise typer.BadParameter("expected 5 or 3.1.1", param_hint="--protocol")
    setup_logging("error")
    result = (ingest_mqtt(seconds, rate, fields, topics, qos, protocol, agents=agents) if source == "mqtt"
              else ingest_opcua(seconds, variables))
    _table(result, json_out)


@bench_app.command("table")
def bench_table(
    name: Annotated[str, typer.Argument(help="ingest, opcua-ratio, alarms, historian or reconnect")],
    files: Annotated[list[Path], typer.Argument(help="result files written with --json")],
) -> None:
    """A Markdown table rendered from committed result files (the README quotes these, never hand-copied)."""
    from benchmarks.bench_tables import TABLES, render

    if name not in TABLES:
        raise typer.BadParameter(f"expected one of {sorted(TABLES)}", param_hint="NAME")
    typer.echo(render(name, files))


@bench_app.command("twin")
def bench_twin(
    seconds: Annotated[float, typer.Option(min=1, help="how long the HTTP load runs")] = 20.0,
    rate: Annotated[float, typer.Option(min=1, help="requests per second offered (open loop)")] = 1000.0,
    ws_clients: Annotated[int, typer.Option(min=1, help="WebSocket clients for the fan-out")] = 200,
    ws_seconds: Annotated[float, typer.Option(min=1, help="how long the fan-out runs")] = 20.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """The twin's live endpoints under load from this process, then its WebSocket fan-out, on loopback."""
    from benchmarks.bench_twin import twin_api

    setup_logging("error")
    _table(twin_api(seconds, rate, ws_clients, ws_seconds), json_out)


@bench_app.command("abuse")
def bench_abuse(
    seconds: Annotated[float, typer.Option(min=1, help="how long the hostile client runs beside normal load")] = 60.0,
    rate: Annotated[float, typer.Option(min=1, help="live-state requests per second (open loop)")] = 20.0,
    devices: Annotated[int, typer.Option(min=1, help="good devices sending a QoS 1 message a second")] = 20,
    junk_per_s: Annotated[float, typer.Option(min=1, help="junk MQTT topics per second, for the agent and the twin")]
    = 50.0,
    history_days: Annotated[float, typer.Option(min=0.01, help="days of 1 Hz history the heavy queries read")] = 31.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """A hostile client beside normal load: live-state p99, event-loop stall, RSS, good samples lost, forgeries."""
    import tempfile

    from benchmarks.bench_abuse import abuse

    setup_logging("error")
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        _table(abuse(Path(tmp), seconds, rate, devices, junk_per_s, history_days), json_out)


@bench_app.command("oee")
def bench_oee(
    days: Annotated[int, typer.Option(min=1, help="days of event log")] = 30,
    seed: int = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """OEE over a month of the demo line's events: batch time for every shift and day, cost per live event."""

    from benchmarks.bench_oee import run as run_bench

    result = run_bench(days, seed)
    _table(result, json_out)


@bench_app.command("alerts")
def bench_alerts(
    samples: Annotated[int, typer.Option(min=1000, help="samples through the demo config's alert rules")] = 200_000,
    notifications: Annotated[int, typer.Option(min=2, help="notifications timed per channel")] = 200,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Alert engine: cost per sample and per persisted transition; webhook and MQTT notification latency."""
    import tempfile

    from benchmarks.bench_alerts import run as run_bench

    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        _table(run_bench(samples, notifications, Path(tmp)), json_out)


@bench_app.command("twin-ops")
def bench_twin_ops(
    jobs: Annotated[int, typer.Option(min=1, help="planning jobs submitted at once")] = 20,
    workers: Annotated[int, typer.Option(min=1, help="job worker processes")] = 1,
    commands: Annotated[int, typer.Option(min=1, help="request-and-approve rounds to the simulator")] = 50,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Planning jobs per second through the twin's workers; approval to OPC-UA acknowledgement of commands."""
    import tempfile

    from benchmarks.bench_twin_ops import run as run_bench

    setup_logging("error")
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        result = asyncio.run(run_bench(jobs, workers, commands, Path(tmp)))
    _table(result, json_out)


def _table(result: dict[str, Any], json_out: Path | None) -> None:
    """A benchmark's results as a two-column table (nested tables indented), and as JSON if asked."""
    width = max(map(len, result))
    for key, value in result.items():
        if isinstance(value, dict):
            typer.echo(f"{key}:")
            for name, v in value.items():
                typer.echo(f"  {name:<{width}}  {v}")
        else:
            typer.echo(f"{key:<{width}}  {value}")
    _write_json(json_out, result)


def _load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages, recorded with a benchmark's numbers."""
    import os

    return [round(v, 2) for v in os.getloadavg()]


def _write_json(json_out: Path | None, result: object) -> None:
    """The result with where, when and on what it was measured (commit, versions, load average)."""
    import orjson

    from benchmarks.provenance import provenance

    if json_out:
        if isinstance(result, dict):
            result = result | {"provenance": provenance(_LOAD_AT_START)}
        json_out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


@bench_app.command("skab")
def bench_skab(
    data: Annotated[Path | None, typer.Option(help="a folder laid out like SKAB's data/ (default: ../shared)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Anomaly detectors on SKAB with SKAB's protocol, beside the published leaderboard."""
    from benchmarks import bench_skab as skab
    from benchmarks.skab import DEFAULT_DIR

    folder = data or DEFAULT_DIR
    if not folder.is_dir():
        typer.echo(f"no SKAB data at {folder}: pass --data DIR", err=True)
        raise typer.Exit(2)
    result = skab.run(folder) | {"load_average": _load_average()}
    typer.echo(skab.table(result))
    _write_json(json_out, result)


@bench_app.command("cmapss")
def bench_cmapss(
    data: Annotated[Path | None, typer.Option(help="a folder with train_FD001.txt and test_FD001.txt (default: "
                                                   "../shared/data/cmapss)")] = None,
    folds: Annotated[int, typer.Option(min=2, help="cross-validation folds, grouped by engine")] = 5,
    inner_folds: Annotated[int, typer.Option(min=2, help="inner folds that calibrate each outer fold's intervals")]
    = 4,
    cuts: Annotated[int, typer.Option(min=1, help="cuts per held-out engine")] = 10,
    max_iter: Annotated[int, typer.Option(min=1, help="boosting iterations")] = 300,
    seed: Annotated[int, typer.Option(help="seed of the cuts and the model")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results and predictions here")] = None,
) -> None:
    """Remaining useful life of the C-MAPSS FD001 test engines with 90 % intervals; cross-validated error."""
    from benchmarks import bench_cmapss as cmapss
    from benchmarks.cmapss import DEFAULT_DIR

    folder = data or DEFAULT_DIR
    missing = [n for n in ("train_FD001.txt", "test_FD001.txt") if not (folder / n).is_file()]
    if missing:
        typer.echo(f"no C-MAPSS data at {folder} ({', '.join(missing)} missing): pass --data DIR", err=True)
        raise typer.Exit(2)
    try:
        result = cmapss.run(folder, folds, inner_folds, cuts, seed, max_iter) | {"load_average": _load_average()}
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(cmapss.table(result))
    _write_json(json_out, result)


@bench_app.command("nab")
def bench_nab(
    data: Annotated[Path | None, typer.Option(help="a folder laid out like NAB's (data/, labels/)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Streaming univariate detectors on the NAB corpus, beside NAB's scoreboard."""
    from benchmarks import bench_nab as nab
    from benchmarks.nab_corpus import DEFAULT_DIR

    folder = data or DEFAULT_DIR
    if not (folder / "labels" / "combined_windows.json").is_file():
        typer.echo(f"no NAB data at {folder}: pass --data DIR", err=True)
        raise typer.Exit(2)
    result = nab.run(folder) | {"load_average": _load_average()}
    typer.echo(nab.table(result))
    _write_json(json_out, result)


@bench_app.command("detectors")
def bench_detectors(
    samples: Annotated[int, typer.Option(help="values per streaming detector (a tenth as rows for multivariate)")]
    = 1_000_000,
    block: Annotated[int, typer.Option(help="values per live micro-batch")] = 1000,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Samples scored per second per detector (one at a time, streamed in micro-batches, batched); model sizes."""
    from benchmarks import bench_detectors as bench

    result = bench.run(samples, block)
    typer.echo(bench.table(result))
    _write_json(json_out, result)


@bench_app.command("historian")
def bench_historian(
    days: Annotated[float, typer.Option(min=0.01, help="days of the demo line's history to write")] = 7.0,
    samples: Annotated[int | None, typer.Option(min=1000, help="write only about this many samples")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="warm runs per query (the median is reported)")] = 5,
    influxdb: Annotated[bool, typer.Option(help="also load Debian's InfluxDB 1.6 and time the window query")] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """The historian: insert rate, file size and the UI's queries on a week of the line; InfluxDB side by side."""
    import tempfile

    from benchmarks.bench_historian import historian_bench

    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        result = historian_bench(Path(tmp), days, samples, repeats, influxdb)
    _table(result, json_out)


@bench_app.command("reconnect")
def bench_reconnect(
    outage_s: Annotated[float, typer.Option(min=1, help="seconds the broker stays away")] = 20.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """MQTT clients after a broker outage: seconds until each is back, what QoS 0 and QoS 1 devices lost."""
    import tempfile

    from benchmarks.bench_reconnect import reconnect_bench

    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        result = reconnect_bench(Path(tmp), outage_s)
    _table(result, json_out)


@bench_app.command("sim")
def bench_sim(
    config: Annotated[Path, typer.Argument(help="plant model YAML")] = PLANT_YAML,
    days: Annotated[float, typer.Option(help="simulated days of the one-replication speed run")] = 30.0,
    replications: Annotated[int, typer.Option(help="replications of one shift for the scaling run")] = 100,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Planning model speed: simulated days per wall second, events/s, memory, vs a bare SimPy chain; scaling."""

    from benchmarks.bench_sim import bench_sim as run_bench
    from factory_twin.sim_cli import pick_line

    try:
        line = pick_line(config, None)
    except ConfigError as exc:
        raise _fail(exc) from None
    result = run_bench(line, days, replications)
    _table(result, json_out)


@bench_app.command("calibrate")
def bench_calibrate(
    config: Annotated[Path, typer.Argument(help="plant model YAML (its first line is simulated)")] = PLANT_YAML,
    days: Annotated[float, typer.Option(min=0.1, help="days of history")] = 7.0,
    seed: int = 7,
    replications: Annotated[int, typer.Option(min=2, help="replications of the calibrated model")] = 10,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Calibration from history: time to fit a line's history, known parameters inside the fitted intervals."""
    from benchmarks.bench_calibrate import bench_calibrate as run_bench
    from factory_twin.sim_cli import pick_line

    try:
        line = pick_line(config, None)
    except ConfigError as exc:
        raise _fail(exc) from None
    _table(run_bench(config, line, days, seed, replications) | {"load_average": _load_average()}, json_out)


@bench_app.command("decide")
def bench_decide(
    config: Annotated[Path, typer.Argument(help="plant model YAML (its first line is simulated)")] = PLANT_YAML,
    days: Annotated[float, typer.Option(min=0.1, help="simulated days per seed")] = 7.0,
    seeds: Annotated[int, typer.Option(min=2, help="seeds: each runs with and without the decision loop")] = 5,
    horizon: Annotated[float, typer.Option(min=1, help="hours each decision looks ahead")] = 24.0,
    live_check: Annotated[bool, typer.Option("--live/--no-live", help="first, one decision through the twin's "
                                             "API while its live state is polled")] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """The decision loop's value: good parts and unplanned downtime with and without it, paired by seed."""
    from benchmarks.bench_decide import bench_decide as run_bench
    from factory_twin.sim_cli import pick_line
    from planning.decide import DecisionSettings

    try:
        line = pick_line(config, None)
    except ConfigError as exc:
        raise _fail(exc) from None
    settings = DecisionSettings(horizon_h=horizon)
    live: dict[str, Any] = {}
    if live_check:
        import tempfile

        from benchmarks.bench_decide import live_check as check

        with tempfile.TemporaryDirectory() as tmp:
            live = asyncio.run(check(tmp, settings)) | {"load_average": _load_average()}
    result = run_bench(line, days, seeds, settings) | {"load_average": _load_average()}
    if live:
        result["one_decision_in_the_twin"] = live
    per_seed = result.pop("per_seed")
    _table(result, None)
    _write_json(json_out, result | {"per_seed": per_seed})


@bench_app.command("faults")
def bench_faults(
    config: Annotated[Path, typer.Argument(help="plant model YAML (its first line is simulated)")] = PLANT_YAML,
    hours: Annotated[float, typer.Option(min=0.1, help="simulated hours of the labelled 1 Hz data set")] = 24.0,
    seed: Annotated[int, typer.Option(help="seed of the first replication")] = 1,
    replications: Annotated[int, typer.Option(min=1, help="runs pooled, seeds seed, seed+1, ...")] = 3,
    faults_per_day: Annotated[float, typer.Option(min=0, help="random faults per simulated day (0: scheduled only)")]
    = 24.0,
    baseline_h: Annotated[float, typer.Option(min=0.01, help="hours the detectors learn from")] = 2.0,
    tolerance: Annotated[float, typer.Option(min=0, help="seconds an alarm may miss a fault window by")] = 60.0,
    rul_hours: Annotated[float, typer.Option(min=0, help="simulated hours for the RUL score (0: skip)")] = 400.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Detectors on the simulator's injected faults (precision, recall, delay per type); RUL on its bearing wear."""
    from benchmarks.bench_faults import run as run_bench

    try:
        result = run_bench(config, hours, seed, replications, faults_per_day, baseline_h, tolerance, rul_hours)
    except ConfigError as exc:
        raise _fail(exc) from None
    _table(result | {"load_average": _load_average()}, json_out)


def _seeds(text: str) -> list[int]:
    """'1,2,5' or '1-3' (or both: '1-3,7')."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise typer.BadParameter(f"expected seeds like 1,2,3 or 1-3, got {text!r}", param_hint="--seeds") from None
    return out


@bench_app.command("alarms")
def bench_alarms(
    days: Annotated[float, typer.Option(min=0.001, help="simulated days per seed")] = 7.0,
    seeds: Annotated[str, typer.Option(help="seeds of the runs, e.g. 1,2,3 or 1-3")] = "1-3",
    settle: Annotated[float, typer.Option(min=0, help="seconds after a restart in which no alert is wanted")] = 900.0,
    tolerance: Annotated[float, typer.Option(min=0, help="seconds an alert may follow the end of its fault")] = 300.0,
    ack: Annotated[float, typer.Option(min=0, help="seconds after which the operator acknowledges an alert")] = 1200.0,
    workers: Annotated[int, typer.Option(min=1, help="seeds run in parallel processes")] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """The live twin's alerts on the demo line against the simulator's truth: per hour, false per asset-day,
    recall and delay per fault type, restarts, escalations, floods."""
    from benchmarks.bench_alarms import bench

    _table(bench(days, _seeds(seeds), settle_s=settle, tolerance_s=tolerance, ack_s=ack, workers=workers), json_out)


@bench_app.command("scale")
def bench_scale(
    lines: Annotated[str, typer.Option(help="comma-separated line counts, one run each")] = "1,2,4,8",
    twins: Annotated[int | None, typer.Option(min=1, help="twin instances (default: 1 for one line, else 2)")] = None,
    seconds: Annotated[float, typer.Option(min=1, help="measured window per run")] = 20.0,
    warmup: Annotated[float, typer.Option(min=0, help="seconds of flow before the window")] = 5.0,
    speed: Annotated[float, typer.Option(min=1, help="simulated seconds per wall second")] = 10.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """N lines x M machines, one agent per line, partitioned twins: samples/s, CPU, RSS, end-to-end latency."""
    import tempfile

    from benchmarks.bench_scale import bench_scale as run_bench
    from benchmarks.bench_scale import table

    try:
        counts = [int(n) for n in lines.split(",")]
    except ValueError:
        raise typer.BadParameter(f"expected numbers like 1,2,4,8, got {lines!r}", param_hint="--lines") from None
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        result = run_bench(Path(tmp), counts, twins, seconds, warmup, speed)
    typer.echo(table(result))
    _write_json(json_out, result)


@bench_app.command("dask")
def bench_dask(
    config: Annotated[Path, typer.Argument(help="plant model YAML")] = PLANT_YAML,
    hours: Annotated[float, typer.Option(min=0.01, help="simulated hours per replication")] = 8.0,
    replications: Annotated[int, typer.Option(min=1)] = 200,
    workers: Annotated[int | None, typer.Option(min=1, help="processes / Dask workers (default: all cores)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Planning replications in a process pool vs on a local Dask cluster: wall time, identical results."""
    import os

    from benchmarks.bench_dask import bench_dask as run_bench
    from factory_twin.sim_cli import pick_line

    try:
        line = pick_line(config, None)
    except ConfigError as exc:
        raise _fail(exc) from None
    _table(run_bench(line, hours, replications, workers or os.cpu_count() or 1), json_out)
