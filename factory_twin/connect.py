"""`factory-twin run DIR`: the twin of the user's own line, in one process, from a folder of configs.

The folder is what `factory-twin edge discover ... --out DIR` drafted and the user reviewed: ``agent.yaml``
(the edge agent reading the line's controllers), ``twin.yaml`` and the files they name. Started here: an
embedded MQTT broker carrying the unified namespace (unless the configs point at a broker of the site's),
the agent, the twin. Nothing is simulated; the demo is the same path with a simulator as the line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from edge_agent.agent import Agent
from edge_agent.config import agent_config_model
from factory_twin.broker import embedded_broker
from factory_twin.demo import DEMO_KEY_VARS, demo_keys, start_part
from factory_twin.planning import plan_job
from factory_twin.runtime import free_port
from plantmodel.config import load_config
from twin.config import load_twin
from twin.main import create_app
from twin.server import serve_http


@dataclass(frozen=True)
class ConnectOptions:
    folder: Path
    port: int = 8000
    host: str = "127.0.0.1"
    data_dir: Path | None = None  # default: <folder>/data
    mqtt_port: int = 0  # 0: a free port for the embedded broker
    embedded_broker: bool = True


@dataclass(frozen=True)
class ConnectedLine:
    agent: Agent
    app: FastAPI
    mqtt_port: int
    keys: dict[str, str]


@asynccontextmanager
async def connected_line(opts: ConnectOptions) -> AsyncIterator[ConnectedLine]:
    mqtt_port = opts.mqtt_port or free_port()
    data_dir = (opts.data_dir or opts.folder / "data").resolve()
    env = {"FT_DATA_DIR": str(data_dir), "FT_HTTP_HOST": opts.host, "FT_HTTP_PORT": str(opts.port)}
    if opts.embedded_broker:
        env |= {"FT_MQTT_HOST": "127.0.0.1", "FT_MQTT_PORT": str(mqtt_port)}
    env |= demo_keys(os.environ)
    twin_cfg, plant, calendar = load_twin(opts.folder / "twin.yaml", env)
    agent_cfg = load_config(opts.folder / "agent.yaml", agent_config_model(), env)
    data_dir.mkdir(parents=True, exist_ok=True)
    agent, app = Agent(agent_cfg), create_app(twin_cfg, plant, calendar, env, planner=plan_job)
    broker = embedded_broker("127.0.0.1", mqtt_port) if opts.embedded_broker else contextlib.nullcontext()
    async with broker, contextlib.AsyncExitStack() as parts:
        await start_part(parts, "edge agent", agent.run)
        await start_part(parts, "twin", lambda s, r: serve_http(app, opts.host, opts.port, s, r))
        yield ConnectedLine(agent, app, mqtt_port, {role: env[var] for role, var in DEMO_KEY_VARS.items()})


async def run_connected(opts: ConnectOptions, stop: asyncio.Event) -> None:
    async with connected_line(opts) as line:
        url = f"http://{opts.host}:{opts.port}"
        print(f"factory-twin running the line in {opts.folder}: {url}/api/assets  (API docs: {url}/docs)",
              flush=True)
        if opts.embedded_broker:
            print(f"  unified namespace: mqtt://127.0.0.1:{line.mqtt_port}", flush=True)
        print("  API keys (send as 'Authorization: Bearer KEY'; set FT_ADMIN_KEY, FT_ENGINEER_KEY, FT_VIEWER_KEY "
              "to choose them):", flush=True)
        for role, key in line.keys.items():
            print(f"    {role:9} {key}", flush=True)
        print(f"  web UI (signed in as the engineer): {url}/#key={line.keys['engineer']}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
        print("stopping...", flush=True)
