"""Small lines for the simulator's validation tests, built in code from the same plant model as any YAML."""

from __future__ import annotations

from typing import Any

from plantmodel.plant import Line, PlantConfig

INFINITE = 10**9


def serial_line(stations: list[dict[str, Any]], buffers: list[int | None] | None = None,
                simulation: dict[str, Any] | None = None) -> Line:
    """Stations m1..mn (each a `sim` mapping, plus optional `ideal`/`type`/`capacity`), buffers b1.. between them.

    A buffer of None is absent (direct hand-over); INFINITE stands for an unlimited one.
    """
    buffers = buffers or [None] * (len(stations) - 1)
    assets: list[dict[str, Any]] = []
    flow: list[str] = []
    for i, st in enumerate(stations, 1):
        st = dict(st)
        asset = {"id": f"m{i}", "type": st.pop("type", "cnc_machine"), "ideal_cycle_time_s": st.pop("ideal", 1.0),
                 "sim": st}
        if "capacity" in st:
            asset["capacity"] = st.pop("capacity")
        assets.append(asset)
        flow.append(f"m{i}")
        if i <= len(buffers) and buffers[i - 1] is not None:
            assets.append({"id": f"b{i}", "type": "buffer", "capacity": buffers[i - 1]})
            flow.append(f"b{i}")
    line = {"id": "l", "flow": flow, "cells": [{"id": "c", "assets": assets}], "simulation": simulation or {}}
    plant = PlantConfig.model_validate(
        {"enterprise": "t", "sites": [{"id": "s", "areas": [{"id": "a", "lines": [line]}]}]})
    return plant.lines()[0]


def exponential(mean: float) -> dict[str, Any]:
    return {"kind": "exponential", "mean": mean}


def network_line(assets: list[dict[str, Any]], links: list[list[str]], simulation: dict[str, Any] | None = None,
                 flow: list[str] | None = None) -> Line:
    """A line of the given assets (ids, types and `sim` as in YAML), its parts moving along `links`.

    Stations default to `cnc_machine` with an ideal cycle of 1 s; `flow` defaults to the assets in order.
    """
    full = []
    for a in assets:
        a = dict(a)
        a.setdefault("type", "cnc_machine")
        if a["type"] != "buffer":
            a.setdefault("ideal_cycle_time_s", 1.0)
        full.append(a)
    line = {"id": "l", "flow": flow or [a["id"] for a in full], "links": links,
            "cells": [{"id": "c", "assets": full}], "simulation": simulation or {}}
    plant = PlantConfig.model_validate(
        {"enterprise": "t", "sites": [{"id": "s", "areas": [{"id": "a", "lines": [line]}]}]})
    return plant.lines()[0]
