"""Against a Sparkplug B edge node the project did not write (Eclipse Tahu's client, tests/interop): the default
mapping stores what it publishes under six-level ISA-95 paths, and an agent that restarts (and so has not seen
the births) asks the node for a rebirth and resumes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from interop_servers import TahuEdgeNode
from support import Child, agent_health, free_port, wait_until

from historian.sqlite import SqliteHistorian
from plantmodel.mqtt import BrokerConfig

DEVICE = "acme/plant1/packaging/line-1/gateway-1/press-2"
NODE = "acme/plant1/packaging/line-1/gateway-1/gateway-1"


def test_tahu_node_is_stored_under_isa95_paths_and_rebirths_when_a_restarted_agent_asks(
        tahu_edge_node: Callable[..., TahuEdgeNode], mosquitto: BrokerConfig, tmp_path: Path) -> None:
    node = tahu_edge_node()  # group "Line 1", edge node "Gateway 1", device "Press 2": births go out now
    health_port = free_port()
    history = tmp_path / "data" / "history.db"
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "name": "interop-spb", "data_dir": str(tmp_path / "data"),
        "health": {"port": health_port, "telemetry_interval_s": 0},
        "sources": [{"type": "mqtt", "name": "gateway", "broker": {"port": mosquitto.port}, "qos": 1,
                     "sparkplug": [{"group": "Line 1", "area": "acme/plant1/packaging", "rebirth_interval_s": 2}]}],
        "sinks": [{"type": "historian", "name": "history", "path": str(history)}]}))

    def source() -> dict[str, Any]:
        return agent_health(health_port)["sources"]["gateway"]

    def stored(asset: str, signal: str) -> list[Any]:
        h = SqliteHistorian(history, readonly=True)
        try:
            return [(s.value, s.unit) for s in h.samples(asset, signal)]
        finally:
            h.close()

    def rebirths() -> int:
        return len([e for e in node.seen("birth") if e["why"] == "rebirth"])

    def agent_run(run: int, good: int, scrap: int) -> None:
        agent = Child(f"agent{run}", ["edge", "run", str(config), "--log-level", "warning"], tmp_path)
        try:
            wait_until(lambda: source()["connected"], 30, "the agent's MQTT source to connect")
            before = rebirths()

            def data_then_rebirth() -> bool:  # published again until the agent's subscription is in place
                if rebirths() > before:
                    return True
                node.command("set", metric="Motor/Speed", value=1500.0 + run)
                return False

            # the node's births went out before this agent listened: its data by alias cannot be resolved ...
            wait_until(data_then_rebirth, 20, "the agent to ask for a rebirth and the node to answer", interval=0.5)
            assert node.seen("ncmd")[-1]["metrics"] == [{"name": "Node Control/Rebirth", "value": True}]
            assert source()["rejected"].get("unknown_alias", 0) >= 1  # ... and is kept in the quarantine
            # ... until the births arrive: from then on it flows
            node.command("parts", good=good, bad=scrap)
            node.command("set", metric="Motor/Speed", value=1600.0 + run)
            wait_until(lambda: (1600.0 + run, "rpm") in stored(DEVICE, "motor.speed"), 20,
                       "the device's data by alias after the rebirth, in the historian")
        finally:
            assert agent.stop() == 0, agent.stderr()[-3000:]

    agent_run(0, good=3, scrap=1)
    agent_run(1, good=5, scrap=2)  # a restarted agent has not seen the births either

    assert stored(DEVICE, "good_parts")[-1][0] == 8 and stored(DEVICE, "scrap_parts")[-1][0] == 3
    assert stored(DEVICE, "zone_1.temperature")[-1] == (20.0, "°C")  # from the birth, "/" and a space in its name
    assert stored(DEVICE, "offset")[-1] == (-5, "mm")  # an Int16 sent as a uint32 on the wire
    assert stored(NODE, "uptime")  # the edge node's own metric
    h = SqliteHistorian(history, readonly=True)
    try:
        assert {s.asset for s in h.samples()} == {DEVICE, NODE}  # nothing the historian refused
    finally:
        h.close()
