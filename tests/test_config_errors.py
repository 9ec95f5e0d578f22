"""A wrong configuration stops start-up with a message naming the file, the key path, the line and the expectation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import PROJECT

from edge_agent.config import agent_config_model
from plantmodel.config import ConfigError, load_config, parse_config
from plantmodel.plant import PlantConfig
from simulators.flow.line import FlowLine

DEMO = (PROJECT / "configs" / "demo-plant.yaml").read_text()


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in DEMO
    path = tmp_path / "plant.yaml"
    path.write_text(DEMO.replace(old, new, 1))
    return path


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_demo_configs_are_valid() -> None:
    plant = load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig)
    assert len(plant.assets()) == 11
    agent = load_config(PROJECT / "configs" / "edge-demo.yaml", agent_config_model(), {"FT_DATA_DIR": "/x"})
    assert [s.type for s in agent.sources] == ["mqtt", "opcua"]


def test_out_of_range_value_names_file_path_line_and_expectation(tmp_path: Path) -> None:
    path = _broken(tmp_path, "mttr_s: 180", "mttr_s: -5")
    with pytest.raises(ConfigError) as err:
        load_config(path, PlantConfig)
    message = str(err.value)
    assert message.startswith(f"{path}: invalid configuration")
    line = _line_of(path, "mttr_s: -5")
    assert f"sites[0].areas[0].lines[0].cells[0].assets[0].sim.mttr_s (line {line}): " in message
    assert "greater than 0; got -5" in message


def test_unknown_key_and_missing_key(tmp_path: Path) -> None:
    path = _broken(tmp_path, "capacity: 8", "capacty: 8")
    with pytest.raises(ConfigError) as err:
        load_config(path, PlantConfig)
    message = str(err.value)
    assert "cells[0].assets[1].capacty" in message and "unknown key" in message
    path = _broken(tmp_path, "type: buffer\n                    capacity: 8", "capacity: 8")
    with pytest.raises(ConfigError) as err:
        load_config(path, PlantConfig)
    assert "cells[0].assets[1].type (line" in str(err.value) and "required key is missing" in str(err.value)
    # a real machine may be twinned before its ideal cycle time is known (OEE then has no performance), but
    # it cannot be simulated without one
    path = _broken(tmp_path, "                    ideal_cycle_time_s: 36\n", "")
    line = load_config(path, PlantConfig).lines()[0]
    with pytest.raises(ValueError, match=r"turning/cnc-1: a cnc_machine needs ideal_cycle_time_s"):
        FlowLine(line, seed=1)


def test_flow_with_unknown_asset(tmp_path: Path) -> None:
    path = _broken(tmp_path, "flow: [cnc-1,", "flow: [cnc-9, cnc-1,")
    with pytest.raises(ConfigError) as err:
        load_config(path, PlantConfig)
    assert "lines[0].flow[0] (line 24): 'cnc-9' is not an asset of this line" in str(err.value)


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = _broken(tmp_path, "capacity: 8", "capacity: [8")
    with pytest.raises(ConfigError) as err:
        load_config(path, PlantConfig)
    assert "not valid YAML" in str(err.value) and "line " in str(err.value)


def test_missing_file_and_missing_environment_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "nope.yaml", PlantConfig)
    with pytest.raises(ConfigError) as err:
        parse_config("enterprise: ${FT_TEST_UNSET_VARIABLE}\nsites: []\n", PlantConfig, "x.yaml")
    assert "enterprise (line 1): environment variable FT_TEST_UNSET_VARIABLE is not set" in str(err.value)


def test_agent_plugin_type_and_plugin_fields_are_checked() -> None:
    text = (PROJECT / "configs" / "edge-demo.yaml").read_text()
    with pytest.raises(ConfigError) as err:
        parse_config(text.replace("type: opcua", "type: opc-ua"), agent_config_model(), "edge.yaml")
    assert "sources[1]" in str(err.value) and "'mqtt', 'opcua'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config(text.replace("queue_size: 1000", "queue_size: zero"), agent_config_model(), "edge.yaml")
    assert "sources[1].queue_size (line" in str(err.value) and "got 'zero'" in str(err.value)


@pytest.mark.parametrize("command", [["sim", "serve"], ["twin", "serve"], ["edge", "run"]])
def test_cli_exits_non_zero_with_the_message_and_no_traceback(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    result = subprocess.run([sys.executable, "-m", "factory_twin", *command, str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{path}: invalid configuration" in result.stderr
    assert "Traceback" not in result.stderr
