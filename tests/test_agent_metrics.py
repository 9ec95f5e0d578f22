"""The agent's Prometheus text counts a source's regained connections."""

from __future__ import annotations

from pathlib import Path

from support import free_port, mqtt_agent_yaml

from edge_agent.agent import Agent
from edge_agent.config import agent_config_model
from plantmodel.config import load_config


def test_reconnects_are_counted_per_source(tmp_path: Path) -> None:
    cfg = load_config(mqtt_agent_yaml(tmp_path, "metrics-test", free_port(), 0, {"p": "path: p"},
                                      [f"{{type: historian, name: h, path: {tmp_path / 'h.db'}}}"]),
                      agent_config_model())
    agent = Agent(cfg)
    try:
        source = agent.sources[0]
        for connected in (False, True, True, False, False, True, False, True):  # connected, then regained twice
            source.connected = connected
            agent.health.tick()
        assert agent.health.snapshot()["sources"]["gauges"]["reconnects"] == 2
        assert 'factory_twin_agent_source_reconnects_total{agent="metrics-test",source="gauges"} 2' in (
            agent.health.prometheus())
    finally:
        agent.quarantine.close()
        agent.spool.close()
