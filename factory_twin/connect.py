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
from factory_twin.broker import demo_passwords, embedded_broker, password_var
from factory_twin.demo import DEMO_KEY_VARS, demo_keys, start_part
from factory_twin.runtime import free_port
from planning.planner import plan_job
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
    mqtt_passwords: dict[str, str]  # users of the embedded broker (none with the site's broker)
    generated: frozenset[str]  # the environment variables whose secrets this run made (printed once)


@asynccontextmanager
async def connected_line(opts: ConnectOptions) -> AsyncIterator[ConnectedLine]:
    mqtt_port = opts.mqtt_port or free_port()
    data_dir = (opts.data_dir or opts.folder / "data").resolve()
    env = {"FT_DATA_DIR": str(data_dir), "FT_HTTP_HOST": opts.host, "FT_HTTP_PORT": str(opts.port)}
    keys = demo_keys(os.environ)
    passwords = demo_passwords(os.environ) if opts.embedded_broker else {}
    generated = frozenset(v for v in [*keys, *map(password_var, passwords)] if not os.environ.get(v))
    if opts.embedded_broker:  # no anonymous clients: the agent and the twin log in (configs name the variables)
        env |= {"FT_MQTT_HOST": "127.0.0.1", "FT_MQTT_PORT": str(mqtt_port), "FT_MQTT_EDGE_USER": "edge",
                "FT_MQTT_TWIN_USER": "twin"}
        os.environ.update({password_var(user): pw for user, pw in passwords.items()})
    env |= keys
    twin_cfg, plant, calendar = load_twin(opts.folder / "twin.yaml", env)
    agent_cfg = load_config(opts.folder / "agent.yaml", agent_config_model(), env)
    data_dir.mkdir(parents=True, exist_ok=True)
    agent, app = Agent(agent_cfg), create_app(twin_cfg, plant, calendar, env, planner=plan_job)
    broker = embedded_broker("127.0.0.1", mqtt_port, passwords) if opts.embedded_broker else contextlib.nullcontext()
    async with broker, contextlib.AsyncExitStack() as parts:
        await start_part(parts, "edge agent", agent.run)
        await start_part(parts, "twin", lambda s, r: serve_http(app, opts.host, opts.port, s, r))
        yield ConnectedLine(agent, app, mqtt_port, {who: env[var] for who, var in DEMO_KEY_VARS.items()}, passwords,
                            generated)


async def run_connected(opts: ConnectOptions, stop: asyncio.Event) -> None:
    async with connected_line(opts) as line:
        url = f"http://{opts.host}:{opts.port}"
        print(f"factory-twin running the line in {opts.folder}: {url}/api/assets  (API docs: {url}/docs)",
              flush=True)
        if opts.embedded_broker:
            print(f"  unified namespace: mqtt://127.0.0.1:{line.mqtt_port}", flush=True)
        made = line.generated
        print("  API keys, one per person (send as 'Authorization: Bearer KEY'; set "
              f"{', '.join(DEMO_KEY_VARS.values())} to choose them):", flush=True)
        for who, var in DEMO_KEY_VARS.items():
            print(f"    {who:10} {line.keys[who] if var in made else f'(yours, from {var})'}", flush=True)
        for user, pw in line.mqtt_passwords.items():
            print(f"  MQTT user {user:7} {pw if password_var(user) in made else f'(yours, from {password_var(user)})'}",
                  flush=True)
        if "FT_ENGINEER_KEY" in made:
            print(f"  web UI (signed in as engineer-a): {url}/#key={line.keys['engineer']}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
        print("stopping...", flush=True)
