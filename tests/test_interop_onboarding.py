"""Onboarding equipment the project did not write, as README's "Connect your own line" does it: a node-opcua
server with an OPC 40501 machine tool, a PackML packaging machine and a PLC's plain tags is discovered,
drafted, checked and run; the twin's states, part counts and OEE follow what the test makes the server do."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from interop_servers import NodeOpcuaServer
from support import PROJECT, auth, free_port, port_open, wait_until

LINE = "acme/plant1/machining/line1"
MILL = f"{LINE}/machines/mill-1"
FILLER = f"{LINE}/packmlobjects/filler-3"
PRESS = f"{LINE}/line-1/press-2"


def cli(*args: object) -> str:
    result = subprocess.run([sys.executable, "-m", "factory_twin", *map(str, args)], cwd=PROJECT, text=True,
                            capture_output=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def give_ideal_cycle_times(plant_file: Path, cycles: dict[str, float]) -> None:
    """The one review edit OEE needs: each station's design cycle time, which no server publishes."""
    plant = yaml.safe_load(plant_file.read_text())
    for cell in plant["sites"][0]["areas"][0]["lines"][0]["cells"]:
        for asset in cell["assets"]:
            if asset["id"] in cycles:
                asset["ideal_cycle_time_s"] = cycles[asset["id"]]
    plant_file.write_text(yaml.safe_dump(plant, sort_keys=False, allow_unicode=True))


def test_machine_tool_and_packml_from_discovery_to_oee(node_opcua: Callable[..., NodeOpcuaServer],
                                                       tmp_path: Path) -> None:
    server = node_opcua()
    folder = tmp_path / "line1"
    out = cli("edge", "discover", server.endpoint, "--prefix", LINE, "--out", folder, "--pki", tmp_path / "pki")
    assert f"{MILL}: cnc_machine" in out and "machine_tool companion specification" in out
    assert f"{FILLER}: packaging_machine" in out and "packml companion specification" in out
    assert "'Line 1/Press 2/Motor Speed' -> 'motor_speed'" in out
    plant = yaml.safe_load((folder / "plant.yaml").read_text())
    mill = next(a for c in plant["sites"][0]["areas"][0]["lines"][0]["cells"] for a in c["assets"]
                if a["id"] == "mill-1")
    assert mill["identification"]["serial_number"] == "VMC850-2024-0042"

    give_ideal_cycle_times(folder / "plant.yaml", {"mill-1": 30.0, "filler-3": 0.5})
    checked = cli("plant", "check", folder / "plant.yaml", "--agent", folder / "agent.yaml")
    assert "OEE: availability, performance, quality" in checked

    port = free_port()
    log = tmp_path / "run.log"
    with log.open("w") as sink:
        run = subprocess.Popen([sys.executable, "-m", "factory_twin", "run", str(folder), "--port", str(port)],
                               cwd=PROJECT, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port) or run.poll() is not None, 90, "the twin to listen")
        assert run.poll() is None, log.read_text()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth("viewer"), timeout=10) as client:

            def asset(path: str) -> dict[str, Any]:
                return client.get(f"/api/assets/{path}").json()

            def until(path: str, test: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
                return wait_until(lambda: (a := asset(path)) and test(a) and a, 60, what)

            server.command("state", machine="Mill 1", state="Executing")
            server.command("state", machine="Filler 3", state="Execute")
            until(MILL, lambda a: a["state"] == "producing", "the mill producing (MachineryItemState Executing)")
            until(FILLER, lambda a: a["state"] == "producing", "the filler producing (PackML Execute)")
            server.command("parts", machine="Mill 1", good=5, bad=2)
            server.command("parts", machine="Filler 3", good=10, bad=1)
            until(MILL, lambda a: a["parts"].get("good") == 5, "the mill's good parts")
            until(FILLER, lambda a: a["parts"].get("good") == 10 and a["parts"].get("scrap") == 1,
                  "the filler's good parts: processed less defective")
            server.command("state", machine="Filler 3", state="Held")
            until(FILLER, lambda a: a["state"] == "down", "the filler down (PackML Held)")
            server.command("state", machine="Filler 3", state="Aborted")
            server.command("state", machine="Filler 3", state="Stopped")
            until(FILLER, lambda a: a["state"] == "idle", "the filler idle (PackML Stopped, outer machine)")
            server.command("state", machine="Mill 1", state="OutOfService")
            until(MILL, lambda a: a["state"] == "down", "the mill down (OutOfService)")
            server.command("set", path="Line 1/Press 2/Zone Temperatures", value=[180.5, 181, 182.5, 179])
            press = until(PRESS, lambda a: a["signals"].get("zone_temperatures.2", {}).get("value") == 182.5,
                          "the press's array, element by element")
            assert press["signals"]["zone_temperatures.2"]["unit"] == "°C"

            def oee(path: str) -> dict[str, Any]:
                return client.get(f"/api/oee/{path}").json()

            mill_oee = wait_until(lambda: (o := oee(MILL)) and o["shift"]["counts"]["produced"] == 7 and o, 60,
                                  "the mill's OEE counts")
            assert mill_oee["shift"]["counts"] == {"produced": 7, "good": 5, "scrap": 2, "rework": 0}
            kpis = mill_oee["shift"]["kpis"]
            assert kpis["quality"] == 5 / 7 and 0 < kpis["availability"] <= 1
            filler_oee = oee(FILLER)["shift"]
            assert filler_oee["counts"]["good"] == 10 and filler_oee["counts"]["scrap"] == 1
            assert filler_oee["time_model_s"]["failure"] + filler_oee["time_model_s"]["minor_stop"] > 0
    finally:
        run.terminate()
        run.wait(30)
    assert run.returncode == 0 and "Traceback" not in log.read_text(), log.read_text()
