"""factory-twin: one command line for the demo and each part of the system."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

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
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: start what they need on loopback, print a table.")
app.add_typer(bench_app, name="bench")

PLANT_YAML = config_path("demo-plant.yaml")
AGENT_YAML = config_path("edge-demo.yaml")
TWIN_YAML = config_path("twin-demo.yaml")
LogLevel = Annotated[str, typer.Option("--log-level", help="debug, info, warning or error")]


def _fail(exc: ConfigError) -> typer.Exit:
    typer.echo(str(exc), err=True)
    return typer.Exit(2)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="HTTP port of the twin")] = 8000,
    host: Annotated[str, typer.Option(help="address the twin listens on")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="where history and quarantine are kept")] = Path("factory-twin-data"),
    speed: Annotated[float, typer.Option(min=0.01, help="simulated seconds per wall second")] = 1.0,
    mqtt_port: Annotated[int, typer.Option(help="embedded broker port (0: any free port)")] = 0,
    opcua_port: Annotated[int, typer.Option(help="simulated line's OPC-UA port (0: any free port)")] = 0,
    log_level: LogLevel = "warning",
) -> None:
    """Run the twin of a simulated line: plant, broker, edge agent, historian and twin in one process."""
    from factory_twin.demo import DemoOptions, run_demo

    setup_logging(log_level)
    opts = DemoOptions(port, host, data_dir, speed, mqtt_port, opcua_port)
    raise typer.Exit(run(lambda stop: run_demo(opts, stop)))


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

    from factory_twin.oee_calc import shift_kpis

    if good > produced:
        raise typer.BadParameter(f"good ({good}) cannot exceed produced ({produced})", param_hint="--good")
    if production_time > planned_busy_time:
        raise typer.BadParameter("production time cannot exceed planned busy time", param_hint="--production-time")
    k = shift_kpis(planned_busy_time, production_time, ideal_cycle_time, produced, good, setup_s=setup_time,
                   rework=rework, calendar_s=calendar_time, clamp=clamp)
    if json_out:
        typer.echo(orjson.dumps(k, option=orjson.OPT_INDENT_2).decode())
        return
    for name in ("availability", "performance", "quality", "oee"):
        v = k[name]
        typer.echo(f"{name:<13} {'n/a' if v is None else f'{v:8.4%}':>9}")
    if k["flags"]:
        typer.echo(f"flags         {', '.join(k['flags'])}")


@sim_app.command("serve")
def sim_serve(
    plant: Annotated[Path, typer.Argument(help="plant model YAML")] = PLANT_YAML,
    opcua_host: str = "127.0.0.1",
    opcua_port: int = 4840,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    speed: Annotated[float, typer.Option(min=0.01)] = 1.0,
    duration: Annotated[float | None, typer.Option(help="stop producing after this many wall seconds")] = None,
    record: Annotated[Path | None, typer.Option(help="write every published sample here (JSON lines)")] = None,
    start_on_subscribe: Annotated[float, typer.Option(
        help="wait up to this many seconds for a client to monitor every variable before starting")] = 0.0,
    log_level: LogLevel = "info",
) -> None:
    """Serve the simulated line in real time over OPC-UA (and MQTT for devices that use it)."""
    from plantmodel import mqtt
    from plantmodel.plant import PlantConfig
    from simulators.serve import SimulatorOptions, serve

    setup_logging(log_level)
    try:
        model = load_config(plant, PlantConfig)
    except ConfigError as exc:
        raise _fail(exc) from None
    opts = SimulatorOptions(f"opc.tcp://{opcua_host}:{opcua_port}/factory-twin/",
                            mqtt.BrokerConfig(host=mqtt_host, port=mqtt_port), speed, duration, record,
                            start_on_subscribe)

    async def main(stop: asyncio.Event) -> None:
        await serve(model, opts, stop)

    raise typer.Exit(run(main))


@edge_app.command("run")
def edge_run(
    config: Annotated[Path, typer.Argument(help="agent YAML")] = AGENT_YAML,
    log_level: LogLevel = "info",
) -> None:
    """Run the edge agent: sources in, sinks out, until Ctrl-C or SIGTERM."""
    from edge_agent.agent import Agent
    from edge_agent.config import agent_config_model

    setup_logging(log_level)
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


@twin_app.command("serve")
def twin_serve(
    config: Annotated[Path, typer.Argument(help="twin YAML")] = TWIN_YAML,
    port: Annotated[int | None, typer.Option(help="override the configured HTTP port")] = None,
    log_level: LogLevel = "info",
) -> None:
    """Serve the twin's HTTP API, fed from the MQTT unified namespace."""
    from twin.config import load_twin
    from twin.main import create_app
    from twin.server import serve_http

    setup_logging(log_level)
    try:
        cfg, plant, calendar = load_twin(config)
    except ConfigError as exc:
        raise _fail(exc) from None
    http_port = port or cfg.port
    typer.echo(f"twin serving on http://{cfg.host}:{http_port}/api/assets")
    raise typer.Exit(run(lambda stop: serve_http(create_app(cfg, plant, calendar), cfg.host, http_port, stop)))


@bench_app.command("pipeline")
def bench_pipeline(
    seconds: Annotated[float, typer.Option(help="wall seconds the plant produces")] = 20.0,
    speed: Annotated[float, typer.Option(help="simulated seconds per wall second")] = 1.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """The demo's whole path: time to live state, samples per second through the agent, produced vs stored."""
    import tempfile

    import orjson

    from factory_twin.bench import pipeline

    setup_logging("error")
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        result = asyncio.run(pipeline(seconds, speed, Path(tmp)))
    width = max(map(len, result))
    for key, value in result.items():
        typer.echo(f"{key:<{width}}  {value}")
    if json_out:
        json_out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


@bench_app.command("oee")
def bench_oee(
    days: Annotated[int, typer.Option(min=1, help="days of event log")] = 30,
    seed: int = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """OEE over a month of the demo line's events: batch time for every shift and day, cost per live event."""
    import orjson

    from factory_twin.bench_oee import run as run_bench

    result = run_bench(days, seed)
    width = max(map(len, result))
    for key, value in result.items():
        typer.echo(f"{key:<{width}}  {value}")
    if json_out:
        json_out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


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
    log_level: LogLevel = "warning",
) -> None:
    """Browse a server and write every variable found as a tag file to review, commit and use as `tags_file`."""
    from edge_agent.sources.opcua_discover import discover

    setup_logging(log_level)
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
