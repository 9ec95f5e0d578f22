"""Against an OPC UA server the project did not write (node-opcua, tests/interop): its companion-spec nodes as a
client sees them, what `edge discover` makes of them today, and the agent across server restarts that change the
server's certificate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from asyncua import Client, ua
from interop_servers import NodeOpcuaServer
from support import PROJECT

from edge_agent.sources.opcua_tags import TagFile
from plantmodel.config import load_config
from plantmodel.isa95 import is_asset_path

PLANT = "urn:factory-twin:interop:plant"
MILL = f"nsu={PLANT};s=Mill 1"
FILLER = f"nsu={PLANT};s=Filler 3"
PRESS = f"nsu={PLANT};s=Line 1/Press 2"


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 90) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout))


async def read(client: Client, nodeid: str) -> Any:
    ns, _, ident = nodeid.removeprefix(f"nsu={PLANT};").partition("=")
    index = (await client.get_namespace_array()).index(PLANT)
    return await client.get_node(f"ns={index};{ns}={ident}").read_value()


async def browse_path(client: Client, *names: str) -> ua.NodeId:
    """The node at a browse path below Objects, names without namespace (as a user reads them in a browser)."""
    node = client.nodes.objects
    for name in names:
        children = await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)
        match = [c for c in children if c.BrowseName.Name == name]
        assert match, f"no {name!r} below {node}: {[c.BrowseName.Name for c in children]}"
        node = client.get_node(match[0].NodeId)
    return node.nodeid


def test_the_fixture_serves_a_machine_tool_a_packml_unit_and_plain_variables(
        node_opcua: Callable[..., NodeOpcuaServer]) -> None:
    server = node_opcua()
    assert server.ready["security"] == ["None/None", "Basic256Sha256/SignAndEncrypt"]
    for uri in ("http://opcfoundation.org/UA/Machinery/", "http://opcfoundation.org/UA/MachineTool/",
                "http://opcfoundation.org/UA/PackML/", "http://opcfoundation.org/UA/Robotics/", PLANT):
        assert uri in server.ready["namespaces"]

    async def scenario() -> None:
        async with Client(server.endpoint) as client:
            # the paths a generic OPC UA browser shows, with the companion specs' browse names
            item = await browse_path(client, "Machines", "Mill 1", "Monitoring", "MachineTool", "MachineryItemState",
                                     "CurrentState")
            assert item == await browse_path(client, "Machines", "Mill 1", "MachineryBuildingBlocks",
                                             "MachineryItemState", "CurrentState")  # one node, two parents
            assert (await client.get_node(item).read_value()).Text == "NotExecuting"
            await browse_path(client, "Machines", "Mill 1", "Monitoring", "Spindle 1", "Override")
            await browse_path(client, "PackMLObjects", "Filler 3", "Admin", "ProdProcessedCount")
            ident = await browse_path(client, "Machines", "Mill 1", "Identification")
            props = {c.BrowseName.Name for c in await client.get_node(ident).get_children_descriptions()}
            assert {"Manufacturer", "Model", "SerialNumber", "ProductInstanceUri", "YearOfConstruction"} <= props

            server.command("state", machine="Mill 1", state="Executing")
            server.command("state", machine="Mill 1", of="program", state="Running", name="BRACKET.NC")
            server.command("parts", machine="Mill 1", good=5, bad=2)
            assert (await read(client, f"{MILL}-MachineryBuildingBlocks-MachineryItemState-CurrentState")
                    ).Text == "Executing"
            assert await read(client, f"{MILL}-Production-ActiveProgram-State-CurrentState-Number") == 1  # Running
            assert await read(client, f"{MILL}-Production-ActiveProgram-Name") == "BRACKET.NC"
            assert await read(client, f"{MILL}-Production-ProductionPlan-Job1-PartsCompleted") == 7
            assert await read(client, f"{MILL}-Production-ProductionPlan-Job1-PartsGood") == 5
            assert await read(client, f"{MILL}-Monitoring-Spindle1-IsRotating") is True
            eu = await read(client, f"{MILL}-Monitoring-Spindle1-Override-EngineeringUnits")
            assert eu.DisplayName.Text == "%"

            server.command("state", machine="Filler 3", state="Execute")
            server.command("parts", machine="Filler 3", good=10, bad=1)
            assert await read(client, f"{FILLER}-BaseStateMachine-MachineState-ExecuteState-CurrentState-Number") == 6
            assert (await read(client, f"{FILLER}-BaseStateMachine-CurrentState")).Text == "Cleared"
            counts = await read(client, f"{FILLER}-Admin-ProdProcessedCount")
            assert isinstance(counts, list) and len(counts) == 1  # PackMLCountDataType: an ExtensionObject
            server.command("state", machine="Filler 3", state="Aborted")
            dv = await client.get_node(await browse_path(
                client, "PackMLObjects", "Filler 3", "BaseStateMachine", "MachineState", "CurrentState")
            ).read_data_value(raise_on_bad_status=False)
            assert dv.StatusCode.name == "BadStateNotActive"  # a sub-state machine of an inactive state

            server.command("set", path="Line 1/Press 2/Zone Temperatures", value=[180.5, 181, 182.5, 179])
            server.command("set", path="Line 1/Press 2/Status Word", value=0b1000_0000_0000_0101)
            assert await read(client, f"{PRESS}/Zone Temperatures") == [180.5, 181.0, 182.5, 179.0]
            assert await read(client, f"{PRESS}/Status Word") == 0x8005

    run(scenario)


def test_discover_against_node_opcua_as_it_is_today(node_opcua: Callable[..., NodeOpcuaServer],
                                                    tmp_path: Path) -> None:
    """What `edge discover` drafts from companion-spec servers before any companion-spec mapping: browse paths as
    assets (spaces kept, fewer or more than six levels), every variable a signal, arrays and structures included,
    properties (Identification, program Name) left out. tests/interop/README.md shows the draft."""
    import subprocess

    server = node_opcua()
    out = tmp_path / "draft.yaml"
    done = subprocess.run([sys.executable, "-m", "factory_twin", "edge", "discover", server.endpoint, "--out",
                           str(out), "--pki", str(tmp_path / "pki")], cwd=PROJECT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    tags = load_config(out, TagFile).tags
    found = {(t.asset, t.signal): t for t in tags}
    assert found[("Line 1/Press 2", "Motor Speed")].unit == "r/min"  # node-opcua's display name for RPM
    assert found[("Line 1/Press 2", "Zone Temperatures")].unit == "°C"  # a Double[4]
    assert ("Line 1/Press 2", "Status Word") in found
    assert ("Machines/Mill 1/Monitoring/MachineTool/MachineryItemState", "CurrentState") in found
    assert ("Machines/Mill 1/MachineryBuildingBlocks/MachineryItemState", "CurrentState") in found
    assert ("Machines/Mill 1/Production/ProductionPlan/Job 1", "PartsGood") in found
    assert ("PackMLObjects/Filler 3/Admin", "ProdProcessedCount") in found
    assert ("PackMLObjects/Filler 3/BaseStateMachine/MachineState/ExecuteState", "CurrentState") in found
    assert not any(t.signal in ("Manufacturer", "SerialNumber", "Name") for t in tags)  # properties are skipped
    # today: no asset path the historian accepts (ISA-95, six levels)
    assert not any(is_asset_path(t.asset) for t in tags)
    raw = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert len(raw["tags"]) == len(tags)
