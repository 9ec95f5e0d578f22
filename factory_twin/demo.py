"""The demo: the twin of a simulated line, every part on embedded defaults, in one process.

Order of start: broker, plant (OPC-UA server and AGV over MQTT), edge agent, twin; shutdown in reverse,
each part given its own stop signal so the agent can flush what it holds before the plant goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from edge_agent.agent import Agent
from edge_agent.config import agent_config_model
from factory_twin.broker import demo_passwords, embedded_broker, password_var
from factory_twin.runtime import config_path, free_port
from historian.sqlite import SCHEMA_VERSION, file_schema
from planning.planner import plan_job
from plantmodel import mqtt
from plantmodel.clock import wall_us
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import from_micros
from plantmodel.uns import format_ts
from simulators.serve import SimulatorOptions, serve
from twin.config import load_twin
from twin.main import create_app
from twin.server import serve_http

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    port: int = 8000
    host: str = "127.0.0.1"
    data_dir: Path = Path("factory-twin-data")
    speed: float = 1.0
    mqtt_port: int = 0  # 0: a free port
    opcua_port: int = 0
    record: Path | None = None  # every value the plant put on the wire, and its fault labels beside it


@dataclass(frozen=True)
class RunningLine:
    plant: PlantConfig
    agent: Agent
    app: FastAPI
    opcua_endpoint: str
    mqtt_port: int
    history: Path
    keys: dict[str, str]  # who (admin, engineer, engineer-2, viewer) -> API key
    mqtt_passwords: dict[str, str]  # broker user (edge, twin, device) -> password
    generated: frozenset[str]  # the environment variables whose secrets this run made (printed once)


@asynccontextmanager
async def running_line(opts: DemoOptions, plant_opts: SimulatorOptions | None = None) -> AsyncIterator[RunningLine]:
    """Broker, plant, agent and twin started in that order; stopped in reverse when the block exits.

    `plant_opts` may bound the simulation (duration, record file); its endpoint and broker are set here.
    """
    mqtt_port = opts.mqtt_port or free_port()
    endpoint = f"opc.tcp://127.0.0.1:{opts.opcua_port or free_port()}/factory-twin/"
    data_dir = opts.data_dir.resolve()
    env = {"FT_MQTT_HOST": "127.0.0.1", "FT_MQTT_PORT": str(mqtt_port), "FT_OPCUA_ENDPOINT": endpoint,
           "FT_DATA_DIR": str(data_dir), "FT_HTTP_HOST": opts.host, "FT_HTTP_PORT": str(opts.port)}
    keys = demo_keys(os.environ)
    passwords = demo_passwords(os.environ)
    generated = frozenset(v for v in [*keys, *map(password_var, passwords)] if not os.environ.get(v))
    env |= keys
    # the demo's own MQTT clients log in as these users; their passwords are read from the process environment
    env |= {"FT_MQTT_EDGE_USER": "edge", "FT_MQTT_TWIN_USER": "twin"}
    os.environ.update({password_var(user): pw for user, pw in passwords.items()})
    # one plant clock for every part: plant time begins now and runs `speed` times faster than the wall clock
    origin_us = (plant_opts.origin_us if plant_opts and plant_opts.origin_us is not None else wall_us())
    env |= {"FT_PLANT_SPEED": repr(plant_opts.speed if plant_opts else opts.speed),
            "FT_PLANT_ORIGIN": format_ts(from_micros(origin_us))}
    # Every configuration is validated before anything opens a socket.
    twin_file = config_path("twin-demo.yaml")
    twin_cfg, plant, calendar = load_twin(twin_file, env)
    agent_cfg = load_config(config_path("edge-demo.yaml"), agent_config_model(), env)
    _set_aside_old_history(data_dir / "history.db")
    sim_opts = replace(plant_opts or SimulatorOptions(speed=opts.speed, record=opts.record), opcua_endpoint=endpoint,
                       broker=mqtt.BrokerConfig(port=mqtt_port, username="device",
                                                password_env=password_var("device")), origin_us=origin_us)
    agent, app = Agent(agent_cfg), create_app(twin_cfg, plant, calendar, env, planner=plan_job)

    async with embedded_broker("127.0.0.1", mqtt_port, passwords), contextlib.AsyncExitStack() as parts:
        await start_part(parts, "plant", lambda s, r: serve(plant, sim_opts, s, r))
        await start_part(parts, "edge agent", agent.run)
        await start_part(parts, "twin", lambda s, r: serve_http(app, opts.host, opts.port, s, r))
        yield RunningLine(plant, agent, app, endpoint, mqtt_port, data_dir / "history.db",
                          {who: env[var] for who, var in DEMO_KEY_VARS.items()}, passwords, generated)


#: one key per person of configs/twin-demo.yaml (a command needs a second engineer's approval)
DEMO_KEY_VARS = {"admin": "FT_ADMIN_KEY", "engineer": "FT_ENGINEER_KEY", "engineer-2": "FT_ENGINEER2_KEY",
                 "viewer": "FT_VIEWER_KEY"}


def demo_keys(environ: Mapping[str, str]) -> dict[str, str]:
    """The demo's API keys: those set in the environment, and a fresh random one for each that is not."""
    return {var: environ.get(var) or secrets.token_urlsafe(18) for var in DEMO_KEY_VARS.values()}


def _set_aside_old_history(path: Path) -> None:
    """The demo's history is disposable: a file from an older version is moved aside, not refused."""
    version = file_schema(path)
    if version is not None and version != SCHEMA_VERSION:
        old = path.with_name(f"{path.name}.schema{version}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{path}{suffix}")
            if src.exists():
                src.replace(Path(f"{old}{suffix}"))
        print(f"note: {path} was written by an older version; moved to {old}", flush=True)


async def run_demo(opts: DemoOptions, stop: asyncio.Event) -> None:
    async with running_line(opts) as line:
        url = f"http://{opts.host}:{opts.port}"
        print(f"factory-twin demo running: {url}/api/assets  (API docs: {url}/docs)", flush=True)
        print(f"  OPC-UA {line.opcua_endpoint}   MQTT mqtt://127.0.0.1:{line.mqtt_port}   history {line.history}",
              flush=True)
        if opts.speed != 1:
            print(f"  plant clock: {opts.speed:g} simulated seconds per wall second; every part keeps time on it "
                  "(docs/time.md)", flush=True)
        made = line.generated
        print("  API keys, one per person (send as 'Authorization: Bearer KEY'; set "
              f"{', '.join(DEMO_KEY_VARS.values())} to choose them):", flush=True)
        for who, var in DEMO_KEY_VARS.items():
            print(f"    {who:10} {line.keys[who] if var in made else f'(yours, from {var})'}", flush=True)
        print(f"  MQTT users (no anonymous access; set {', '.join(map(password_var, line.mqtt_passwords))} "
              "to choose their passwords):", flush=True)
        for user, pw in line.mqtt_passwords.items():
            print(f"    {user:10} {pw if password_var(user) in made else f'(yours, from {password_var(user)})'}",
                  flush=True)
        viewer = line.keys["viewer"] if "FT_VIEWER_KEY" in made else "$FT_VIEWER_KEY"
        print(f"  e.g. curl -H 'Authorization: Bearer {viewer}' {url}/api/assets", flush=True)
        if "FT_ENGINEER_KEY" in made:
            print(f"  web UI (signed in as engineer-a): {url}/#key={line.keys['engineer']}", flush=True)
        else:
            print(f"  web UI: {url}/ (sign in with your key)", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
        print("stopping...", flush=True)


async def start_part(parts: contextlib.AsyncExitStack, name: str,
                     body: Callable[[asyncio.Event, asyncio.Event], Coroutine[Any, Any, object]]) -> None:
    """Start one part with its own stop signal, wait until it says it is ready, and stop it when `parts` closes."""
    own_stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(body(own_stop, ready), name=name)
    parts.push_async_callback(_stop_part, name, own_stop, task)
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
        raise RuntimeError(f"{name} stopped during start-up")


async def _stop_part(name: str, stop: asyncio.Event, task: asyncio.Task[object]) -> None:
    stop.set()
    try:
        await asyncio.wait_for(task, 15)
    except TimeoutError:
        log.warning("%s did not stop within 15 s", name)
    except Exception:
        log.exception("%s failed while stopping", name)
