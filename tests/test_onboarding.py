"""Connecting a line whose PLC does not speak the namespace's vocabulary, as README's steps do it: discover a
draft, review it, check it, run agent and twin; and `plant check` naming every inconsistency."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support import PROJECT, auth, free_port, port_open, wait_until

LINE = "acme/plant1/press-shop/line2"
MACHINE = f"{LINE}/line-1/machine0"


class Plc:
    """tests/plc_server.py in its own process: the stand-in for a vendor's controller."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, str(PROJECT / "tests" / "plc_server.py"), str(self.port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().startswith("ready"), "the PLC server did not start"
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}/"

    def set(self, name: str, value: object) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{name}={value}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def plc() -> Iterator[Plc]:
    p = Plc()
    try:
        yield p
    finally:
        p.stop()


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "factory_twin", *map(str, args)], cwd=PROJECT, text=True,
                            capture_output=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def review(folder: Path) -> None:
    """What the engineer does after reading the draft: Machine0 is a press whose status word and part
    counter carry its state and parts."""
    plant = yaml.safe_load((folder / "plant.yaml").read_text())
    line = plant["sites"][0]["areas"][0]["lines"][0]
    machine = next(a for c in line["cells"] for a in c["assets"] if a["id"] == "machine0")
    machine.update(type="press", ideal_cycle_time_s=2.0)
    for name in ("status_word", "part_counter"):
        del machine["signals"][name]
    line["flow"] = ["machine0"]
    (folder / "plant.yaml").write_text(yaml.safe_dump(plant, sort_keys=False))
    tags = yaml.safe_load((folder / "tags.yaml").read_text())
    for tag in tags["tags"]:
        if tag["signal"] == "status_word":
            tag.update(signal="state", map={"bits": {2: "down", 0: "producing"}, "default": "idle"})
        elif tag["signal"] == "part_counter":
            tag.update(signal="parts_good", unit="parts", map={"counter": {"rollover": 65535}})
    (folder / "tags.yaml").write_text(yaml.safe_dump(tags, sort_keys=False))


def test_discover_review_check_and_run_a_vendor_plc(plc: Plc, tmp_path: Path) -> None:
    folder = tmp_path / "line2"
    out = cli("edge", "discover", plc.endpoint, "--prefix", LINE, "--out", folder, "--pki", tmp_path / "pki")
    # every browse name that had to change is reported, and the draft holds only paths the historian accepts
    for renamed in ("'Line 1' -> 'line-1'", "'Line 1/Machine0/Motor Speed' -> 'motor_speed'",
                    "'Line 1/Machine0/Spindle/Temp' -> 'spindle.temp'"):
        assert renamed in out.stdout
    tags = yaml.safe_load((folder / "tags.yaml").read_text())["tags"]
    assert {(t["asset"], t["signal"]) for t in tags} >= {(MACHINE, "motor_speed"), (MACHINE, "zone_temps"),
                                                         (MACHINE, "spindle.temp")}
    plant = yaml.safe_load((folder / "plant.yaml").read_text())
    signals = plant["sites"][0]["areas"][0]["lines"][0]["cells"][1]["assets"][0]["signals"]
    assert signals["zone_temps"]["array"] == 4 and signals["motor_speed"]["unit"] == "1/min"
    assert cli("plant", "check", folder / "plant.yaml", "--agent", folder / "agent.yaml").returncode == 0

    review(folder)
    checked = cli("plant", "check", folder / "plant.yaml", "--agent", folder / "agent.yaml")
    assert f"{MACHINE} (press)" in checked.stdout and "OEE: availability, performance, quality" in checked.stdout

    port = free_port()
    log = tmp_path / "run.log"
    with log.open("w") as out_file:
        run = subprocess.Popen([sys.executable, "-m", "factory_twin", "run", str(folder), "--port", str(port)],
                               cwd=PROJECT, stdout=out_file, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: port_open(port) or run.poll() is not None, 60, "the twin to listen")
        assert run.poll() is None, log.read_text()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth("viewer"), timeout=10) as client:

            def machine() -> dict[str, Any]:
                return client.get(f"/api/assets/{MACHINE}").json()

            plc.set("Status Word", 1)
            plc.set("Motor Speed", 1450.0)
            wait_until(lambda: machine()["state"] == "producing", 30, "the press to be producing")
            for value in (65533, 65535, 2):  # 3 + 2 + 3 parts, across the counter's wrap
                plc.set("Part Counter", value)
            m = wait_until(lambda: (m := machine())["parts"].get("good") == 2 and m, 30, "the part counter")
            assert m["signals"]["motor_speed"]["value"] == 1450.0 and m["signals"]["motor_speed"]["unit"] == "1/min"
            assert m["signals"]["zone_temps.3"]["value"] == 23.0
            plc.set("Status Word", 5)  # running and faulted: the fault bit is listed first
            wait_until(lambda: machine()["state"] == "down", 30, "the press to be down")
            oee = wait_until(lambda: (o := client.get(f"/api/oee/{MACHINE}").json()) and
                             o.get("shift", o).get("counts", {}).get("good") == 8 and o, 30, "8 good parts in OEE")
            assert oee
    finally:
        run.terminate()
        run.wait(30)
    assert run.returncode == 0 and "Traceback" not in log.read_text(), log.read_text()


def _line_of(plant_text: str) -> dict[str, Any]:
    return yaml.safe_load(plant_text)


def test_plant_check_names_file_key_and_reason(tmp_path: Path) -> None:
    (tmp_path / "plant.yaml").write_text("""
enterprise: acme
sites:
  - id: plant1
    areas:
      - id: press-shop
        lines:
          - id: line2
            flow: [p1]
            cells:
              - id: line-1
                assets:
                  - {id: p1, type: press, ideal_cycle_time_s: 2}
""")
    (tmp_path / "tags.yaml").write_text(f"""
tags:
  - {{node: "ns=2;i=1", asset: {LINE}/line-1/p1, signal: state,
     map: {{states: {{0: idle, 1: producing}}}}, enum: {{0: Stopped, 1: Running, 2: Fault}}}}
  - {{node: "ns=2;i=2", asset: {LINE}/line-1/p1, signal: ram_speed, unit: mm/s}}
  - {{node: "ns=2;i=3", asset: Line1/Machine0, signal: press_force}}
  - {{node: "ns=2;i=4", asset: {LINE}/line-1/p1, signal: oil_temperature, unit: bar}}
  - {{node: "ns=2;i=5", asset: {LINE}/line-1/p1, signal: oil_temperature, unit: degF}}
""")
    (tmp_path / "agent.yaml").write_text("""
name: line2-edge
data_dir: ./data
plant: plant.yaml
sources: [{type: opcua, name: plc, endpoint: "opc.tcp://127.0.0.1:4840/", tags_file: tags.yaml}]
sinks: [{type: historian, name: history, path: ./data/history.db}]
""")
    result = cli("plant", "check", tmp_path / "plant.yaml", "--agent", tmp_path / "agent.yaml", check=False)
    assert result.returncode == 1
    errors = result.stderr
    tags = str(tmp_path / "tags.yaml")
    assert f"{tags}: tags[0].map: the server declares 2 (Fault), which the map does not cover" in errors
    assert f"{tags}: tags[1].signal: a press has no signal 'ram_speed': it is mapped to nothing" in errors
    assert f"{tags}: tags[2].asset: 'Line1/Machine0' is not an ISA-95 path of six segments" in errors
    assert f"{tags}: tags[3].unit: 'bar' cannot be converted to '°C'" in errors
    assert "tags[4]" not in errors and f"warning: {tags}: tags[4].unit: '°F' is converted" in result.stdout
    assert "no part counter (good or total) is fed" in result.stdout
