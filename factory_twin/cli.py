"""factory-twin: one command line for the demo and each part of the system."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from factory_twin.runtime import config_path, run, setup_logging
from plantmodel.config import ConfigError, load_config

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
sim_app = typer.Typer(no_args_is_help=True, help="The line simulator.")
edge_app = typer.Typer(no_args_is_help=True, help="The edge agent.")
twin_app = typer.Typer(no_args_is_help=True, help="The twin service.")
app.add_typer(sim_app, name="sim")
app.add_typer(edge_app, name="edge")
app.add_typer(twin_app, name="twin")
plant_app = typer.Typer(no_args_is_help=True, help="The plant model and its asset catalogue.")
app.add_typer(plant_app, name="plant")

PLANT_YAML = config_path("demo-plant.yaml")
AGENT_YAML = config_path("edge-demo.yaml")
TWIN_YAML = config_path("twin-demo.yaml")
LogLevel = Annotated[str, typer.Option("--log-level", help="debug, info, warning or error")]


class LogFormatName(StrEnum):
    text = "text"
    json = "json"


LogFormat = Annotated[LogFormatName, typer.Option(
    "--log-format", help="text, or json: one object per line with asset paths (default: $FT_LOG_FORMAT or text)")]


def _fail(exc: ConfigError | str) -> typer.Exit:
    typer.echo(str(exc), err=True)
    return typer.Exit(2)


def _instant(text: str | None, option: str) -> int | None:
    """An ISO 8601 instant (naive: UTC) as microseconds, or exit 2 naming the option."""
    from datetime import datetime

    from plantmodel.telemetry import to_micros

    if text is None:
        return None
    try:
        return to_micros(datetime.fromisoformat(text))
    except ValueError:
        raise _fail(f"{option}: expected an ISO 8601 instant such as 2026-01-01T06:00:00Z, got {text!r}") from None


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="HTTP port of the twin")] = 8000,
    host: Annotated[str, typer.Option(help="address the twin listens on")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="where history and quarantine are kept")] = Path("factory-twin-data"),
    speed: Annotated[float, typer.Option(min=0.01, help="plant (simulated) seconds per wall second; every part "
                                                        "keeps time on the plant clock")] = 1.0,
    mqtt_port: Annotated[int, typer.Option(help="embedded broker port (0: any free port)")] = 0,
    opcua_port: Annotated[int, typer.Option(help="simulated line's OPC-UA port (0: any free port)")] = 0,
    record: Annotated[Path | None, typer.Option(
        help="write every value the plant put on the wire here (JSON lines), and its injected faults to "
             "FILE.labels.jsonl when the demo stops: the ground truth")] = None,
    log_level: LogLevel = "warning",
    log_format: LogFormat = LogFormatName.text,
) -> None:
    """Run the twin of a simulated line: plant, broker, edge agent, historian and twin in one process."""
    from factory_twin.demo import DemoOptions, run_demo

    setup_logging(log_level, log_format)
    opts = DemoOptions(port, host, data_dir, speed, mqtt_port, opcua_port, record)
    raise typer.Exit(run(lambda stop: run_demo(opts, stop)))


@app.command("run")
def run_line(
    folder: Annotated[Path, typer.Argument(help="folder with agent.yaml and twin.yaml, as `edge discover --out` "
                                                "drafts them", exists=True, file_okay=False)],
    port: Annotated[int, typer.Option(help="HTTP port of the twin")] = 8000,
    host: Annotated[str, typer.Option(help="address the twin listens on")] = "127.0.0.1",
    data_dir: Annotated[Path | None, typer.Option(help="history, quarantine, twin database (default: FOLDER/data)")
                        ] = None,
    mqtt_port: Annotated[int, typer.Option(help="embedded broker port (0: any free port)")] = 0,
    external_broker: Annotated[bool, typer.Option(help="use the broker the configs name instead of an embedded "
                                                       "one")] = False,
    log_level: LogLevel = "warning",
    log_format: LogFormat = LogFormatName.text,
) -> None:
    """Run the twin of your own line: edge agent, historian, unified namespace and twin in one process."""
    from factory_twin.connect import ConnectOptions, run_connected

    setup_logging(log_level, log_format)
    opts = ConnectOptions(folder, port, host, data_dir, mqtt_port, not external_broker)
    try:
        raise typer.Exit(run(lambda stop: run_connected(opts, stop)))
    except ConfigError as exc:
        raise _fail(exc) from None


@plant_app.command("check")
def plant_check(
    plant: Annotated[Path, typer.Argument(help="plant model YAML")],
    agent: Annotated[list[Path] | None, typer.Option(help="an edge agent's YAML feeding this plant; repeatable")
                     ] = None,
    quiet: Annotated[bool, typer.Option(help="print only errors and warnings, not the per-asset summary")] = False,
) -> None:
    """Check a plant model and the agents feeding it offline: what the twin will and will not understand.

    Exits 1 when anything would be refused at run time, naming file, key path and reason."""
    from edge_agent.check import check

    report = check(plant, agent or [])
    for finding in report.findings:
        typer.echo(str(finding), err=finding.level == "error")
    if not quiet and report.summary:
        typer.echo("\nwhat the twin will understand:")
        for line in report.summary:
            typer.echo(f"  {line}")
    errors, warnings = len(report.errors), len(report.findings) - len(report.errors)
    typer.echo(f"\n{errors} error(s), {warnings} warning(s)")
    raise typer.Exit(1 if errors else 0)


@plant_app.command("types")
def plant_types(
    plant: Annotated[Path | None, typer.Argument(help="a plant model whose own asset_types to include")] = None,
) -> None:
    """List the asset types of the catalogue: role, state signal, part counters and signals with units."""
    from plantmodel.catalog import builtin

    catalog = builtin()
    if plant is not None:
        from plantmodel.plant import PlantConfig

        try:
            catalog = load_config(plant, PlantConfig).catalog
        except ConfigError as exc:
            raise _fail(exc) from None
    for type_id in catalog.assignable():
        t = catalog.type(type_id)
        counters = ", ".join(f"{n} ({o})" for n, o in t.part_counters.items()) or "none"
        typer.echo(f"{type_id}: {t.name} [{t.role}] {t.description}")
        typer.echo(f"  state: {t.state or t.level or '-'}; part counters: {counters}")
        for name, sig in t.signals.items():
            unit = f" [{sig.unit}]" if sig.unit else ""
            typer.echo(f"    {name}: {sig.kind}{unit} {sig.description}")


def _duration(text: str | float) -> float:
    from factory_twin.oee_calc import parse_duration

    if isinstance(text, int | float):  # a default value, already in seconds
        return float(text)
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def oee(
    planned_busy_time: Annotated[float, typer.Option(parser=_duration, metavar="DURATION",
                                                     help="planned busy time, e.g. 420m (shift minus planned stops)")],
    production_time: Annotated[float, typer.Option(parser=_duration, metavar="DURATION",
                                                   help="actual production (run) time, e.g. 373m")],
    produced: Annotated[int, typer.Option(min=0, help="parts produced, good and bad")],
    good: Annotated[int, typer.Option(min=0, help="good parts")],
    ideal_cycle_time: Annotated[float | None, typer.Option(parser=_duration, metavar="DURATION",
                                                           help="ideal time per part, e.g. 1s")] = None,
    setup_time: Annotated[float, typer.Option(parser=_duration, metavar="DURATION")] = 0.0,
    rework: Annotated[int, typer.Option(min=0, help="parts reworked (not good at first pass)")] = 0,
    calendar_time: Annotated[float | None, typer.Option(parser=_duration, metavar="DURATION",
                                                        help="calendar time for TEEP")] = None,
    clamp: Annotated[bool, typer.Option(help="cap performance at 1 (it is flagged either way)")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON (fractions) instead of a table")] = False,
) -> None:
    """OEE of one shift from the numbers on its report (ISO 22400: availability x performance x quality)."""
    import orjson

    from factory_twin.oee_calc import input_problems, shift_kpis

    problems = input_problems(planned_busy_time, production_time, ideal_cycle_time, produced, good,
                              setup_s=setup_time, rework=rework, calendar_s=calendar_time)
    if problems:
        option, why = problems[0]
        raise typer.BadParameter(why + "".join(f"; also {o}: {w}" for o, w in problems[1:]), param_hint=option)
    k = shift_kpis(planned_busy_time, production_time, ideal_cycle_time, produced, good, setup_s=setup_time,
                   rework=rework, calendar_s=calendar_time, clamp=clamp)
    if json_out:
        typer.echo(orjson.dumps(k, option=orjson.OPT_INDENT_2).decode())
        return
    for name in ("availability", "performance", "quality", "oee"):
        v = k[name]
        typer.echo(f"{name:<13} {'n/a' if v is None else f'{v:8.4%}':>9}")
    flags = cast(list[str], k["flags"])
    if flags:
        typer.echo(f"flags         {', '.join(flags)}")


@sim_app.command("serve")
def sim_serve(
    plant: Annotated[Path, typer.Argument(help="plant model YAML")] = PLANT_YAML,
    opcua_host: str = "127.0.0.1",
    opcua_port: int = 4840,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    mqtt_username: Annotated[str | None, typer.Option(help="broker user of the simulated devices (AGVs)")] = None,
    mqtt_password_env: Annotated[str | None, typer.Option(
        help="environment variable holding that user's password")] = None,
    speed: Annotated[float, typer.Option(min=0.01, help="plant (simulated) seconds per wall second")] = 1.0,
    origin: Annotated[str | None, typer.Option(
        help="when plant time begins (ISO 8601, UTC), shared with the agent and twin as FT_PLANT_ORIGIN; "
             "default: when the line starts")] = None,
    duration: Annotated[float | None, typer.Option(help="stop producing after this many wall seconds")] = None,
    record: Annotated[Path | None, typer.Option(help="write every published sample here (JSON lines)")] = None,
    start_on_subscribe: Annotated[float, typer.Option(
        help="wait up to this many seconds for a client to monitor every variable before starting")] = 0.0,
    log_level: LogLevel = "info",
    log_format: LogFormat = LogFormatName.text,
) -> None:
    """Serve the simulated line in real time over OPC-UA (and MQTT for devices that use it)."""
    from plantmodel import mqtt
    from plantmodel.plant import PlantConfig
    from simulators.serve import SimulatorOptions, serve

    setup_logging(log_level, log_format)
    try:
        model = load_config(plant, PlantConfig)
    except ConfigError as exc:
        raise _fail(exc) from None
    opts = SimulatorOptions(opcua_endpoint=f"opc.tcp://{opcua_host}:{opcua_port}/factory-twin/",
                            broker=mqtt.BrokerConfig(host=mqtt_host, port=mqtt_port, username=mqtt_username,
                                                     password_env=mqtt_password_env), speed=speed,
                            origin_us=_instant(origin, "--origin"), duration_s=duration, record=record,
                            start_on_subscribe_s=start_on_subscribe)

    async def main(stop: asyncio.Event) -> None:
        await serve(model, opts, stop)

    raise typer.Exit(run(main))


@sim_app.command("run")
def sim_run(
    config: Annotated[Path, typer.Argument(help="plant model YAML")] = PLANT_YAML,
    hours: Annotated[float, typer.Option(min=0.001, help="simulated hours per replication (after warm-up)")] = 8.0,
    replications: Annotated[int, typer.Option(min=1, help="independent replications")] = 10,
    seed: Annotated[int, typer.Option(help="base seed; replication r uses SeedSequence(seed, spawn_key=(r,))")] = 1,
    workers: Annotated[int | None, typer.Option(min=1, help="processes (default: all cores)")] = None,
    warmup: Annotated[float | None, typer.Option(help="warm-up hours (default: the line's warmup_h)")] = None,
    line_id: Annotated[str | None, typer.Option("--line", help="line id (default: the first line)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
    dask: Annotated[str | None, typer.Option(
        help="run the replications on Dask: 'local' (a local cluster of --workers) or tcp://scheduler:8786")] = None,
) -> None:
    """Simulate a line as fast as possible: throughput, WIP, lead time, per-station OEE, bottleneck."""
    from factory_twin.sim_cli import run_and_report

    raise typer.Exit(run_and_report(config, hours, replications, seed, workers, warmup, line_id, json_out, dask))


@sim_app.command("plan")
def sim_plan(
    scenario: Annotated[Path, typer.Argument(help="what-if scenario YAML")],
    workers: Annotated[int | None, typer.Option(min=1, help="processes (default: all cores)")] = None,
    out: Annotated[Path | None, typer.Option(help="directory for plan.json and plan.html")] = None,
) -> None:
    """What-if variants against the baseline: analytical estimate, simulated throughput with CIs, a chart."""
    from factory_twin.sim_cli import plan

    raise typer.Exit(plan(scenario, workers, out))


@sim_app.command("calibrate")
def sim_calibrate(
    config: Annotated[Path, typer.Argument(help="plant model YAML: the line's shape, kept as it is")] = PLANT_YAML,
    from_history: Annotated[Path, typer.Option("--from-history", help="the historian's SQLite file")] = Path(
        "factory-twin-data/historian.db"),
    out: Annotated[Path, typer.Option(help="the calibrated plant model (a report .calibration.json beside it)")]
    = Path("plant-calibrated.yaml"),
    since: Annotated[str | None, typer.Option(help="ISO 8601 start of the history used (default: all)")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 end (exclusive)")] = None,
    line_id: Annotated[str | None, typer.Option("--line", help="line id (default: the first line)")] = None,
    predict: Annotated[int, typer.Option(min=0, help="replications of the calibrated model to predict the "
                                                 "throughput observed (0: skip)")] = 10,
    workers: Annotated[int | None, typer.Option(min=1, help="processes for the prediction")] = None,
) -> None:
    """Fit cycle, failure, repair and changeover times, scrap rates and buffer sizes from the historian's events."""
    from factory_twin.sim_cli import calibrate_from_history

    raise typer.Exit(calibrate_from_history(config, from_history, out, since, until, line_id, predict, workers))


@sim_app.command("signals")
def sim_signals(
    config: Annotated[Path, typer.Argument(help="plant model YAML")] = PLANT_YAML,
    hours: Annotated[float, typer.Option(min=0.001, help="simulated hours")] = 8.0,
    seed: int = 1,
    period: Annotated[float, typer.Option(min=0.001, help="seconds between signal samples")] = 10.0,
    out: Annotated[Path, typer.Option(help="directory for samples, events, labels and RUL truth")] = Path("sim-data"),
) -> None:
    """Write a labelled data set: signals with degradation and injected faults, events, ground-truth labels."""
    from factory_twin.sim_cli import pick_line
    from simulators.dataset import write_dataset

    try:
        line = pick_line(config, None)
    except ConfigError as exc:
        raise _fail(exc) from None
    counts = write_dataset(line, hours, seed, period, out)
    typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()) + f" -> {out}")


@sim_app.command("replicate")
def sim_replicate(
    config: Annotated[Path, typer.Argument(help="plant model YAML; its first line is copied")] = PLANT_YAML,
    lines: Annotated[int, typer.Option(min=1, help="copies: line1 ... lineN")] = 2,
    out: Annotated[Path, typer.Option(help="folder for plant.yaml and one plant-line<k>.yaml per line")]
    = Path("plant"),
) -> None:
    """A plant of N copies of a line (distinct paths and seeds), and one file per line for its simulator."""
    from factory_twin import plant_gen

    plant = plant_gen.replicate(plant_gen.load(config), lines)
    header = f"# {lines} copies of the first line of {config.name} (factory-twin sim replicate)\n"
    written = [plant_gen.dump(plant, out / "plant.yaml", header)]
    written += [plant_gen.dump(plant_gen.only_line(plant, i), out / f"plant-line{i + 1}.yaml", header)
                for i in range(lines)]
    typer.echo(" ".join(str(p) for p in written))


@edge_app.command("run")
def edge_run(
    config: Annotated[Path, typer.Argument(help="agent YAML")] = AGENT_YAML,
    log_level: LogLevel = "info",
    log_format: LogFormat = LogFormatName.text,
) -> None:
    """Run the edge agent: sources in, sinks out, until Ctrl-C or SIGTERM."""
    from edge_agent.agent import Agent
    from edge_agent.config import agent_config_model

    setup_logging(log_level, log_format)
    try:
        cfg = load_config(config, agent_config_model())
    except ConfigError as exc:
        raise _fail(exc) from None
    raise typer.Exit(run(lambda stop: Agent(cfg).run(stop)))


@edge_app.command("rejected")
def edge_rejected(
    config: Annotated[Path, typer.Argument(help="agent YAML")] = AGENT_YAML,
    limit: int = 20,
) -> None:
    """Show the newest rejected inputs kept in the agent's quarantine, with the reason for each."""
    from edge_agent.config import agent_config_model
    from edge_agent.quarantine import Quarantine

    try:
        cfg = load_config(config, agent_config_model())
    except ConfigError as exc:
        raise _fail(exc) from None
    q = Quarantine(cfg.data_dir / "quarantine.db")
    for r in q.recent(limit):
        typer.echo(f"{r.source}\t{r.reason}\t{r.field}\t{r.topic}\t{r.detail}")
    q.close()


@edge_app.command("status")
def edge_status(
    config: Annotated[Path, typer.Argument(help="agent YAML")] = AGENT_YAML,
    json_out: Annotated[bool, typer.Option("--json", help="print the raw JSON")] = False,
) -> None:
    """Ask a running agent how it is: sources, rates, spool depth and age, sink errors, rejections."""
    import httpx
    import orjson

    from edge_agent.config import agent_config_model

    try:
        cfg = load_config(config, agent_config_model())
    except ConfigError as exc:
        raise _fail(exc) from None
    if not cfg.health.port:
        typer.echo(f"{config}: health.port is not set, so the agent serves no status", err=True)
        raise typer.Exit(2)
    url = f"http://{cfg.health.host}:{cfg.health.port}/health"
    try:
        snap = httpx.get(url, timeout=5).json()
    except httpx.HTTPError as exc:
        typer.echo(f"no agent answers at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_out:
        typer.echo(orjson.dumps(snap, option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(f"agent {snap['agent']}: {snap['status']}, up {snap['uptime_s']:.0f} s, "
               f"{snap['samples_in']} samples in ({snap['samples_in_per_s']}/s)")
    for problem in snap.get("problems", []):
        typer.echo(f"  ! {problem}")
    for name, src in snap["sources"].items():
        rejected = ", ".join(f"{r} {c}" for r, c in src["rejected"].items()) or "none rejected"
        typer.echo(f"  source {name:<16} {src['type']:<8} {'connected' if src['connected'] else 'DISCONNECTED'}"
                   f"  {rejected}")
        if src.get("untrusted_certificate"):
            sources: list[Any] = getattr(cfg, "sources", [])  # the plugins' union, built at run time
            source_cfg = next((s for s in sources if s.name == name), None)
            pki = getattr(source_cfg, "pki_dir", None) or cfg.data_dir / "pki"
            typer.echo(f"    untrusted server certificate SHA-256 {src['untrusted_certificate']}: trust it with "
                       f"`factory-twin edge certs trust {src['untrusted_certificate'][:16]} --pki {pki}`")
        if src.get("last_error"):
            typer.echo(f"    last error: {src['last_error']}")
    for name, sk in snap["sinks"].items():
        age = sk["oldest_unsent_age_s"]
        typer.echo(f"  sink   {name:<16} {sk['type']:<8} {sk['written']} written ({sk['written_per_s']}/s), "
                   f"spool {sk['spool_depth']}{f' (oldest {age:.1f} s)' if age else ''}, "
                   f"dropped {sk['dropped']}, errors {sk['errors']}"
                   + (f" last: {sk['last_error']}" if sk["last_error"] else ""))


@twin_app.command("serve")
def twin_serve(
    config: Annotated[Path, typer.Argument(help="twin YAML")] = TWIN_YAML,
    port: Annotated[int | None, typer.Option(help="override the configured HTTP port")] = None,
    log_level: LogLevel = "info",
    log_format: LogFormat = LogFormatName.text,
) -> None:
    """Serve the twin's HTTP API, fed from the MQTT unified namespace."""
    from twin.config import load_twin
    from twin.main import create_app
    from twin.server import serve_http

    setup_logging(log_level, log_format)
    try:
        cfg, plant, calendar = load_twin(config)
    except ConfigError as exc:
        raise _fail(exc) from None
    from planning.planner import plan_job
    from twin.auth import AuthError

    try:
        app = create_app(cfg, plant, calendar, planner=plan_job)
    except AuthError as exc:
        raise _fail(f"{config}: {exc}") from None
    http_port = port or cfg.port
    typer.echo(f"twin serving on http://{cfg.host}:{http_port}/api/assets")
    raise typer.Exit(run(lambda stop: serve_http(app, cfg.host, http_port, stop)))


audit_app = typer.Typer(no_args_is_help=True, help="The twin's audit log of commands and other audited actions.")
twin_app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def twin_audit_verify(
    config: Annotated[Path, typer.Argument(help="twin YAML (for its database and audit_key_env)")] = TWIN_YAML,
    database: Annotated[Path | None, typer.Option(help="the twin's database file, instead of the config's")] = None,
) -> None:
    """Check the audit log's hash chain: exit 0 if intact, 1 naming the first entry changed, inserted or removed."""
    import os
    import sqlite3

    from twin.commands import verify
    from twin.config import TwinConfig

    try:
        cfg = load_config(config, TwinConfig)
    except ConfigError as exc:
        raise _fail(exc) from None
    path = database or cfg.database
    if not path.exists():
        raise _fail(f"{path}: no such database")
    key = None
    if cfg.audit_key_env:
        if not os.environ.get(cfg.audit_key_env):
            raise _fail(f"{config}: audit_key_env: environment variable {cfg.audit_key_env} is not set")
        key = os.environ[cfg.audit_key_env].encode()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = verify(conn, key)
    except sqlite3.Error as exc:
        raise _fail(f"{path}: cannot read the audit log: {exc}") from None
    finally:
        conn.close()
    how = "HMAC-SHA256" if check.keyed else "SHA-256"
    legacy = f", {check.legacy} older entries before the chain began" if check.legacy else ""
    if not check.intact:
        typer.echo(f"{path}: audit log NOT intact: {check.problem} ({check.entries} entries read, {how})", err=True)
        raise typer.Exit(1)
    typer.echo(f"{path}: audit log intact: {check.entries} entries{legacy}; head entry {check.head_seq}, "
               f"hash {check.head_hash} ({how})")


@app.command("bench", add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(ctx: typer.Context) -> None:
    """Benchmarks: start what they need on loopback, print a table (from a source checkout)."""
    try:  # benchmarks/ sits beside the shipped packages in a checkout; the image and a wheel do not include it
        from benchmarks.cli import bench_app
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks":
            raise
        typer.echo("factory-twin bench: benchmarks run from a source checkout (git clone, then pip install -e .); "
                   "this installation has none", err=True)
        raise typer.Exit(2) from None
    typer.main.get_command(bench_app).main(ctx.args, prog_name="factory-twin bench")


certs_app = typer.Typer(no_args_is_help=True, help="The agent's OPC-UA certificates and the servers it trusts.")
edge_app.add_typer(certs_app, name="certs")


@edge_app.command("discover")
def edge_discover(
    endpoint: Annotated[str, typer.Argument(help="OPC-UA endpoint, e.g. opc.tcp://10.0.0.20:4840/")],
    root: Annotated[str | None, typer.Option(help="browse path below Objects to map, e.g. acme/plant1")] = None,
    object_type: Annotated[list[str] | None, typer.Option(
        help="map every instance of this ObjectType (nsu=... NodeId); repeatable")] = None,
    out: Annotated[Path | None, typer.Option(help="write the tag file here (default: print it)")] = None,
    security: Annotated[str, typer.Option(help="POLICY,MODE e.g. Basic256Sha256,SignAndEncrypt")] = "None",
    pki: Annotated[Path, typer.Option(help="the agent's PKI folder (certificates, trust list)")] = Path("data/pki"),
    username: str | None = None,
    password_env: Annotated[str | None, typer.Option(help="environment variable holding the password")] = None,
    prefix: Annotated[str | None, typer.Option(help="draft a whole line: its ISA-95 path enterprise/site/area/line"
                                                    "[/cell]; --out is then a folder for plant.yaml, tags.yaml, "
                                                    "agent.yaml and twin.yaml")] = None,
    force: Annotated[bool, typer.Option(help="overwrite draft files that exist")] = False,
    log_level: LogLevel = "warning",
) -> None:
    """Browse a server: with --prefix, draft a line to review (plant model, tags with their mappings, agent and
    twin configs); without, write every variable found as a tag file."""
    from edge_agent.sources.opcua_discover import discover

    setup_logging(log_level)
    if prefix is not None:
        _draft(endpoint, prefix, root, out, security, pki, username, password_env, force)
        return
    try:
        text, count = asyncio.run(discover(endpoint, root, object_type or [], security, pki, username, password_env))
    except Exception as exc:  # unreachable server, untrusted certificate, unknown root: say which, no traceback
        typer.echo(f"discovery on {endpoint} failed: {exc}", err=True)
        raise typer.Exit(1) from None
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{count} variables written to {out}")


def _draft(endpoint: str, prefix: str, root: str | None, out: Path | None, security: str, pki: Path,
           username: str | None, password_env: str | None, force: bool) -> None:
    from edge_agent.discovery.draft import agent_yaml, plant_yaml, tags_yaml, twin_yaml
    from edge_agent.sources.opcua_discover import discover_draft

    if out is None:
        raise _fail("--prefix drafts several files: give --out FOLDER")
    try:
        draft = asyncio.run(discover_draft(endpoint, prefix, root, security, pki, username, password_env))
    except Exception as exc:  # unreachable server, untrusted certificate, bad prefix: say which, no traceback
        typer.echo(f"discovery on {endpoint} failed: {exc}", err=True)
        raise typer.Exit(1) from None
    files = {"plant.yaml": plant_yaml(draft), "tags.yaml": tags_yaml(draft),
             "agent.yaml": agent_yaml(draft, f"{draft.prefix[3]}-edge", security), "twin.yaml": twin_yaml(draft)}
    existing = [n for n in files if (out / n).exists()]
    if existing and not force:
        raise _fail(f"{out} already has {', '.join(existing)}: review and keep them, or pass --force")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    for warning in draft.warnings:
        typer.echo(f"renamed: {warning}" if " -> " in warning else f"warning: {warning}")
    for a in draft.assets:
        how = f"{a.spec} companion specification" if a.spec else "by its browse names"
        typer.echo(f"{draft.asset_path(a)}: {a.type}, {len(a.tags)} signals mapped {how}")
    typer.echo(f"wrote {', '.join(files)} to {out}; review plant.yaml, then: "
               f"factory-twin plant check {out / 'plant.yaml'} --agent {out / 'agent.yaml'}")


@certs_app.command("list")
def certs_list(
    pki: Annotated[Path, typer.Option(help="the agent's PKI folder: <data_dir>/pki or the source's pki_dir")]
    = Path("data/pki"),
) -> None:
    """Server certificates the agent trusts or has refused, with fingerprints to trust them by."""
    from edge_agent.sources.opcua_pki import TrustList

    entries = TrustList(pki).entries()
    if not entries:
        typer.echo(f"no server certificates in {pki}")
    for e in entries:
        typer.echo(f"{e.status:<8}  {e.fingerprint}  until {e.not_after:%Y-%m-%d}  {e.subject}  {e.application_uri}")


@certs_app.command("trust")
def certs_trust(
    fingerprint: Annotated[str | None, typer.Argument(help="leading digits of a refused certificate's SHA-256")]
    = None,
    file: Annotated[Path | None, typer.Option(help="trust this DER certificate file instead")] = None,
    pki: Annotated[Path, typer.Option(help="the agent's PKI folder")] = Path("data/pki"),
) -> None:
    """Trust a server certificate: one the agent refused (by fingerprint) or one handed over as a file."""
    from edge_agent.sources.opcua_pki import TrustList

    trust_list = TrustList(pki)
    try:
        if file is not None:
            entry = trust_list.add(file.read_bytes())
        elif fingerprint:
            entry = trust_list.trust(fingerprint)
        else:
            raise LookupError("give a fingerprint or --file")
    except (LookupError, OSError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"trusted {entry.fingerprint}  {entry.subject}")
