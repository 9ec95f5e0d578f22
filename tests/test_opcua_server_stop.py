"""The simulator's OPC-UA server stops while a client keeps reconnecting (the agent reconnects within a second)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import pytest
from support import free_port

from factory_twin.runtime import config_path
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from simulators.live_line import LineModel
from simulators.opcua_server import PlantServer, stop_server


async def _keep_connecting(port: int, held: list[asyncio.StreamWriter]) -> None:
    """Open connections as fast as the server takes them and hold them open, as a reconnecting client would."""
    while True:
        with suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            held.append(writer)
        await asyncio.sleep(0.001)


def test_the_server_stops_while_a_client_reconnects_during_its_shutdown(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        line = load_config(config_path("demo-plant.yaml"), PlantConfig).lines()[0]
        model = LineModel(line)
        port = free_port()
        server = PlantServer([a for a in line.assets() if a.config.sim.interface == "opcua"],
                             f"opc.tcp://127.0.0.1:{port}/factory-twin/")
        await server.start(model.snapshot())
        held: list[asyncio.StreamWriter] = []
        client = asyncio.create_task(_keep_connecting(port, held))
        await asyncio.sleep(0.2)
        try:
            await stop_server(server.server, timeout_s=120)  # a hang, not a slow machine, reaches the bound
        finally:
            client.cancel()
            with suppress(asyncio.CancelledError):
                await client
            for w in held:
                w.close()
        assert held, "the client never connected"

    with caplog.at_level(logging.WARNING, logger="simulators.opcua_server"):
        asyncio.run(main())
    assert "did not stop" not in caplog.text
