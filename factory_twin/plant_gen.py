"""Plants of N identical lines, for scale-out tests, the benchmark and the compose stack.

The first line of a plant model is copied N times as `line1` ... `lineN` (distinct ISA-95 paths, distinct
seeds); its AGVs report through the line's OPC-UA server instead of MQTT, so that one agent per line reads
one server and nothing of one line's traffic lands in another's topics.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from plantmodel.plant import PlantConfig


def replicate(plant: dict[str, Any], lines: int) -> dict[str, Any]:
    """A plant (as YAML data) whose first site and area hold `lines` copies of the source's first line."""
    if lines < 1:
        raise ValueError(f"lines: expected at least 1, got {lines}")
    out = copy.deepcopy(plant)
    site = out["sites"][0]
    site["areas"] = [site["areas"][0]]
    area = site["areas"][0]
    template = area["lines"][0]
    area["lines"] = []
    for i in range(1, lines + 1):
        line = copy.deepcopy(template)
        line["id"] = f"line{i}"
        line["name"] = f"{template.get('name', 'Line')} (copy {i})" if lines > 1 else template.get("name", "")
        sim = line.setdefault("simulation", {})
        sim["seed"] = int(sim.get("seed", 1)) + i - 1
        for cell in line["cells"]:
            for asset in cell["assets"]:
                if asset.get("sim", {}).get("interface") == "mqtt":
                    asset["sim"]["interface"] = "opcua"
        area["lines"].append(line)
    out["sites"] = [site]
    PlantConfig.model_validate(out)  # fail here, naming the problem, rather than in a child process
    return out


def only_line(plant: dict[str, Any], index: int) -> dict[str, Any]:
    """The same plant with only its `index`-th line (from 0): what one line's simulator serves."""
    out = copy.deepcopy(plant)
    area = out["sites"][0]["areas"][0]
    area["lines"] = [area["lines"][index]]
    return out


def line_paths(plant: dict[str, Any]) -> list[str]:
    return [line.path for line in PlantConfig.model_validate(plant).lines()]


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dump(plant: dict[str, Any], path: Path, header: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(plant, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
