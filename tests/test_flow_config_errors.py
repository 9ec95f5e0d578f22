"""Impossible simulation settings are refused before the run, naming the key path that holds them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import PROJECT

from plantmodel.config import ConfigError, load_config, parse_config
from plantmodel.plant import PlantConfig
from simulators.flow.line import FlowLine

DEMO = (PROJECT / "configs" / "demo-plant.yaml").read_text()
LINE = "sites[0].areas[0].lines[0]"
SIM = "              seed: 42\n"


def _error(old: str, new: str) -> str:
    assert old in DEMO
    with pytest.raises(ConfigError) as err:
        parse_config(DEMO.replace(old, new, 1), PlantConfig, "plant.yaml")
    return str(err.value)


@pytest.mark.parametrize(("old", "new", "path", "expected"), [
    ("cycle_time_s: 38,", "cycle_time: {kind: normal, mean: -38, cv: 0.1},",
     f"{LINE}.cells[0].assets[0].sim.cycle_time.mean", "greater than or equal to 0; got -38"),
    ("mttr_s: 180", "mttr_s: 180, failures: [{ttf: 100, ttr: -5}]",
     f"{LINE}.cells[0].assets[0].sim.failures[0].ttr.mean", "greater than or equal to 0; got -5"),
    ("cycle_time_s: 38,", "cycle_time: 0,", f"{LINE}.cells[0].assets[0].sim.cycle_time",
     "the mean must be greater than 0"),
    ("capacity: 8", "capacity: -1", f"{LINE}.cells[0].assets[1].capacity", "greater than or equal to 0; got -1"),
    ("scrap_rate: 0.01", "scrap_rate: 1.5", f"{LINE}.cells[0].assets[0].sim.scrap_rate",
     "less than or equal to 1; got 1.5"),
    ("scrap_rate: 0.01", "scrap_rate: 0.6, rework_rate: 0.6", f"{LINE}.cells[0].assets[0].sim",
     "scrap_rate + rework_rate must not exceed 1"),
    ("mttr_s: 180", "mttr_s: 180, micro_stops: {probability: 2, duration: 5}",
     f"{LINE}.cells[0].assets[0].sim.micro_stops.probability", "less than or equal to 1; got 2"),
    (SIM, SIM + "              products: [{id: a, routing: [cnc-1, cnc-9]}]\n",
     f"{LINE}.simulation.products[0].routing[1]", "'cnc-9' is not a station of this line's flow"),
    (SIM, SIM + "              products: [{id: a, routing: [cnc-1, cnc-2, cnc-1]}]\n",
     f"{LINE}.simulation.products[0].routing[2]", "'cnc-1' goes back upstream: a cycle in the routing"),
    (SIM, SIM + "              products: [{id: a, routing: [cnc-2]}]\n",
     f"{LINE}.simulation.products[0].routing[0]", "with an unlimited source every product starts at the first station"),
    (SIM, SIM + "              calendar: {shifts: [{start: '06:00', end: '14:00'}, {start: '13:00', end: '22:00'}]}\n",
     f"{LINE}.simulation.calendar.shifts", "shifts[1] overlaps shifts[0]"),
    (SIM, SIM + "              calendar: {period_h: 12, shifts: [{start: 0, end: 8}]}\n",
     f"{LINE}.simulation.calendar.period_h", "cannot be written as wall-clock shifts, which repeat daily or weekly"),
    (SIM, SIM + "              calendar: {shifts: [{name: a, start: '06:00', end: '14:00'}, {name: b, start: '13:00', "
                "end: '22:00'}]}\n", f"{LINE}.simulation.calendar", "shifts[1] (b) overlaps shifts[0] (a) on mon"),
    (SIM, SIM + "              calendar: {shifts: [{name: a, start: '06:00', end: '14:00', breaks: [{start: '15:00', "
                "end: '15:30'}]}]}\n", f"{LINE}.simulation.calendar.shifts[0]",
     "breaks[0] (15:00-15:30) is not inside the shift 06:00-14:00"),
    (SIM, SIM + "              calendar: {timezone: Mars/Olympus, shifts: [{name: a, start: '06:00', end: '14:00'}]}\n",
     f"{LINE}.simulation.calendar.timezone", "unknown time zone 'Mars/Olympus'"),
    (SIM, SIM + "              source: {kind: arrivals}\n", f"{LINE}.simulation.source",
     "a source of kind arrivals needs interarrival"),
])
def test_impossible_settings_name_their_key_path(old: str, new: str, path: str, expected: str) -> None:
    message = _error(old, new)
    assert f"{path} (line " in message, message
    assert expected in message, message


def test_sim_run_refuses_a_bad_config_before_running(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(DEMO.replace("capacity: 8", "capacity: -1", 1))
    result = subprocess.run([sys.executable, "-m", "factory_twin", "sim", "run", str(path), "--hours", "1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{path}: invalid configuration" in result.stderr and "assets[1].capacity" in result.stderr
    assert "Traceback" not in result.stderr


def test_example_configs_are_valid_and_run() -> None:
    paths = sorted((PROJECT / "configs").glob("*-plant.yaml"))
    assert len(paths) >= 4  # the demo and three industries
    for path in paths:
        line = load_config(path, PlantConfig).lines()[0]
        result = FlowLine(line, 1).run(hours=12)
        assert result["good"] > 0, path
