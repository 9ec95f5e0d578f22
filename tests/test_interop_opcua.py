"""Against an OPC UA server the project did not write (node-opcua, tests/interop): its companion-spec nodes as a
client sees them, what `edge discover` makes of them today, and the agent across server restarts that change the
server's certificate."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from asyncua import Client, ua
from interop_servers import NodeOpcuaServer
from opcua_plant import until
from support import PROJECT, Child, agent_health, free_port, wait_until
from test_opcua_source import Harness

from edge_agent.sources.opcua_tags import TagFile
from historian.sqlite import SqliteHistorian
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
    """What `edge discover` without --prefix (a plain tag file, no companion-spec mapping) makes of companion-spec
    servers: browse paths as assets (spaces kept, not six levels), every variable a signal, arrays and structures
    included, properties (Identification, program Name) left out. tests/interop/README.md shows the file."""
    server = node_opcua()
    out = tmp_path / "draft.yaml"
    done = subprocess.run([sys.executable, "-m", "factory_twin", "edge", "discover", server.endpoint, "--out",
                           str(out), "--pki", str(tmp_path / "pki")], cwd=PROJECT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    tags = load_config(out, TagFile).tags
    found = {(t.asset, t.signal): t for t in tags}
    assert found[("Line 1/Press 2", "Motor Speed")].unit == "rpm"  # node-opcua says r/min: one spelling kept
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
    nodes = {t.node for t in tags}
    assert len(nodes) == len(tags) - 2  # the shared MachineryItemState and MachineryOperationMode, twice each

    server.command("state", machine="Filler 3", state="Execute")  # every state machine active: all report

    async def scenario() -> None:  # the tag file as the agent's OPC-UA source reads it, with no mapping
        h = Harness(tmp_path, endpoint=server.endpoint, tags_file=str(out))
        async with h:
            def reported() -> set[str]:
                signals = {(s.asset, s.signal.partition(".")[0]) for s in h.samples}
                return {t.node for t in tags if (t.asset, t.signal) in signals} | {
                    r.topic for r in h.quarantine.recent(100)}
            await until(lambda: reported() >= nodes, 20, "every node of the tag file to report or be refused")
            refused = {r.field.rpartition("/")[2]: r.reason for r in h.quarantine.recent(100)}
            # state machines' states arrive as text, arrays as one signal per element; NodeId arrays and
            # structures without a field to read are refused
            assert refused == dict.fromkeys(["AvailableStates", "AvailableTransitions", "ProdProcessedCount",
                                             "ProdDefectiveCount"], "unsupported_type")
            assert h.values("PackMLObjects/Filler 3/BaseStateMachine/MachineState/ExecuteState",
                            "CurrentState") == ["Execute"]
            assert h.values("Line 1/Press 2", "Zone Temperatures.3") == [20.0]

    run(scenario)


ASSET = "acme/plant1/pressing/line1/cell1/press-2"
SPEED = {"node": f"{PRESS}/Motor Speed", "asset": ASSET, "signal": "motor_speed"}


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Drive the fixture without blocking the loop the agent's source runs on."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def test_a_restarted_server_with_a_new_certificate_is_read_again_without_security(
        node_opcua: Callable[..., NodeOpcuaServer], tmp_path: Path) -> None:
    """node-opcua makes a new self-signed certificate when its PKI folder is new (a container without a
    volume): with security None the agent reconnects with a new session and values flow again."""
    server = node_opcua()
    first = server.fingerprint

    async def scenario() -> None:
        h = Harness(tmp_path, endpoint=server.endpoint, tags=[SPEED], watchdog_s=0.5, reconnect_max_s=2)
        async with h:
            await until(h.source.ready.is_set, 20, "the source to subscribe")
            await in_thread(server.command, "set", path="Line 1/Press 2/Motor Speed", value=1200.0)
            await until(lambda: 1200.0 in h.values(ASSET, "motor_speed"), 10, "the first value")
            await in_thread(server.restart)
            assert server.fingerprint != first
            await until(lambda: h.source.connected, 30, "the source to reconnect to the new certificate")
            await in_thread(server.command, "set", path="Line 1/Press 2/Motor Speed", value=1300.0)
            await until(lambda: 1300.0 in h.values(ASSET, "motor_speed"), 10, "a value after the restart")
        assert h.values(ASSET, "motor_speed")[-1] == 1300.0

    run(scenario)


def test_a_secured_server_with_a_new_certificate_is_refused_until_trusted_then_read_without_an_agent_restart(
        node_opcua: Callable[..., NodeOpcuaServer], tmp_path: Path) -> None:
    server = node_opcua(secure=True)  # Basic256Sha256 / SignAndEncrypt only; a new certificate each start
    health_port = free_port()
    pki, history = tmp_path / "data" / "pki", tmp_path / "data" / "history.db"
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "name": "interop-certs", "data_dir": str(tmp_path / "data"), "health": {"port": health_port},
        "source_ready_timeout_s": 1,  # health is served once every source is ready or this has passed
        "sources": [{"type": "opcua", "name": "press-plc", "endpoint": server.endpoint, "tags": [SPEED],
                     "security": {"policy": "Basic256Sha256", "mode": "SignAndEncrypt"},
                     "watchdog_s": 0.5, "reconnect_max_s": 2}],
        "sinks": [{"type": "historian", "name": "history", "path": str(history)}]}))

    def source() -> dict[str, Any]:
        return agent_health(health_port)["sources"]["press-plc"]

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "factory_twin", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stored(value: float) -> bool:
        h = SqliteHistorian(history, readonly=True)
        try:
            return value in [s.value for s in h.samples(ASSET, "motor_speed")]
        finally:
            h.close()

    def refused(fp: str) -> dict[str, Any]:
        return wait_until(lambda: (s := source())["untrusted_certificate"] == fp and s, 30,
                          f"the agent to refuse the certificate {fp[:16]}")

    agent = Child("agent", ["edge", "run", str(config), "--log-level", "warning"], tmp_path)
    try:
        first = server.fingerprint
        state = refused(first)
        assert not state["connected"] and first in state["last_error"]
        cli("edge", "certs", "trust", first[:16], "--pki", str(pki))
        wait_until(lambda: source()["connected"], 30, "the agent to connect once the certificate is trusted")
        server.command("set", path="Line 1/Press 2/Motor Speed", value=1000.0)
        wait_until(lambda: stored(1000.0), 20, "a value over the secured channel in the historian")

        server.restart()  # a new certificate
        second = server.fingerprint
        assert second != first
        state = refused(second)
        assert not state["connected"] and second in state["last_error"] and "certs trust" in state["last_error"]
        status = cli("edge", "status", str(config))
        assert "DISCONNECTED" in status and f"untrusted server certificate SHA-256 {second}" in status
        server.command("set", path="Line 1/Press 2/Motor Speed", value=2000.0)  # not read: refused

        cli("edge", "certs", "trust", second[:16], "--pki", str(pki))
        wait_until(lambda: source()["connected"], 30, "the agent to connect to the newly trusted certificate")
        assert source()["untrusted_certificate"] is None and source()["last_error"] is None
        server.command("set", path="Line 1/Press 2/Motor Speed", value=3000.0)
        wait_until(lambda: stored(3000.0), 20, "a value after trusting the new certificate, same agent process")
        assert agent.proc.poll() is None
    finally:
        assert agent.stop() == 0, agent.stderr()[-3000:]
