"""The demo: the twin of a simulated line, every part on embedded defaults, in one process.

Order of start: broker, plant (OPC-UA server and AGV over MQTT), edge agent, twin; shutdown in reverse,
each part given its own stop signal so the agent can flush what it holds before the plant goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.config import agent_config_model
from factory_twin.broker import embedded_broker
from factory_twin.runtime import config_path, free_port
from plantmodel import mqtt
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from simulators.serve import SimulatorOptions, serve
from twin.config import TwinConfig
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


async def run_demo(opts: DemoOptions, stop: asyncio.Event) -> None:
    mqtt_port = opts.mqtt_port or free_port()
    opcua_port = opts.opcua_port or free_port()
    endpoint = f"opc.tcp://127.0.0.1:{opcua_port}/factory-twin/"
    env = {"FT_MQTT_HOST": "127.0.0.1", "FT_MQTT_PORT": str(mqtt_port), "FT_OPCUA_ENDPOINT": endpoint,
           "FT_DATA_DIR": str(opts.data_dir.resolve()), "FT_HTTP_HOST": opts.host, "FT_HTTP_PORT": str(opts.port)}
    # Every configuration is validated before anything opens a socket.
    twin_file = config_path("twin-demo.yaml")
    twin_cfg = load_config(twin_file, TwinConfig, env)
    plant = load_config(twin_file.parent / twin_cfg.plant, PlantConfig, env)
    agent_cfg = load_config(config_path("edge-demo.yaml"), agent_config_model(), env)
    broker = mqtt.BrokerConfig(port=mqtt_port)

    async with embedded_broker("127.0.0.1", mqtt_port), contextlib.AsyncExitStack() as parts:
        async def start(name: str, body: Callable[[asyncio.Event, asyncio.Event], Awaitable[object]]) -> None:
            own_stop, ready = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(body(own_stop, ready), name=name)
            parts.push_async_callback(_stop_part, name, own_stop, task)
            done, _ = await asyncio.wait([task, asyncio.create_task(ready.wait())],
                                         return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                task.result()
                raise RuntimeError(f"{name} stopped during start-up")

        await start("plant", lambda s, r: serve(
            plant, SimulatorOptions(opcua_endpoint=endpoint, broker=broker, speed=opts.speed), s, r))
        await start("edge agent", Agent(agent_cfg).run)
        await start("twin", lambda s, r: serve_http(create_app(twin_cfg, plant), opts.host, opts.port, s, r))
        url = f"http://{opts.host}:{opts.port}"
        print(f"factory-twin demo running: {url}/api/assets  (API docs: {url}/docs)", flush=True)
        print(f"  OPC-UA {endpoint}   MQTT mqtt://127.0.0.1:{mqtt_port}   history {opts.data_dir}/history.db",
              flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
        print("stopping...", flush=True)


async def _stop_part(name: str, stop: asyncio.Event, task: asyncio.Task[object]) -> None:
    stop.set()
    try:
        await asyncio.wait_for(task, 15)
    except TimeoutError:
        log.warning("%s did not stop within 15 s", name)
    except Exception:
        log.exception("%s failed while stopping", name)
