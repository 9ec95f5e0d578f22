"""The shipped example agent config and tag file load as they are documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import PROJECT

from edge_agent.config import agent_config_model
from plantmodel.config import ConfigError, load_config


def test_edge_example_config_and_its_tag_file_load() -> None:
    env = {"FT_DATA_DIR": "/x", "FT_TAGS_FILE": str(PROJECT / "configs" / "turning-tags.yaml")}
    cfg = load_config(PROJECT / "configs" / "edge-example.yaml", agent_config_model(), env)
    plc, milling, gateway = cfg.sources
    assert plc.security.policy == "Basic256Sha256" and plc.password_env == "PLC_PASSWORD"
    tags = {t.signal: t for t in plc.configured_tags() if t.asset.endswith("/cnc-1")}
    assert tags["spindle_speed"].unit == "rpm" and tags["spindle_speed"].deadband.value == 10
    assert tags["spindle_speed"].node.startswith("nsu=urn:factory-twin:simulator;s=")
    assert milling.root == "acme/plant1/machining/line1/milling"
    assert gateway.sparkplug[0].group == "line1" and gateway.broker.tls


def test_a_broken_tag_file_is_named_with_its_line(tmp_path: Path) -> None:
    tags = tmp_path / "tags.yaml"
    tags.write_text("tags:\n  - node: s=no-namespace\n    asset: a/b\n    signal: x\n")
    agent = tmp_path / "edge.yaml"
    agent.write_text(f"name: e\ndata_dir: {tmp_path}\nsources:\n  - type: opcua\n    name: plc\n"
                     f"    endpoint: opc.tcp://127.0.0.1:4840/\n    tags_file: {tags}\n"
                     f"sinks:\n  - type: historian\n    name: h\n    path: {tmp_path}/h.db\n")
    with pytest.raises(ConfigError) as err:
        load_config(agent, agent_config_model())
    assert str(err.value).startswith(f"{tags}: invalid configuration")
    assert "tags[0].node (line 2)" in str(err.value)
