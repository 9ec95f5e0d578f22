"""The plant's ISA-95 tree, and every asset's live state.

Handlers are async: they run on the event loop, the single writer of the twin's state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from plantmodel.plant import PATH_SEP
from plantmodel.telemetry import to_micros
from twin.alerting import Clock
from twin.api.deps import ClockDep, PerformanceDep, PlantDep, TwinDep
from twin.api.live import asset_live, json_response, visible
from twin.api.schemas import AssetDetail, AssetOut, PlantOut, SignalLive
from twin.auth import Principal, check_scope, require
from twin.state import AssetTwin, PlantTwin

router = APIRouter(prefix="/api", tags=["assets"])
Viewer = Annotated[Principal, Depends(require("viewer"))]


@router.get("/plant", response_model=PlantOut)
async def plant_tree(plant: PlantDep, caller: Viewer) -> Response:
    """Enterprise, sites, areas, lines (with their flow order), cells and assets, as far as the caller may see."""
    sites = []
    for site in plant.sites:
        areas = []
        for area in site.areas:
            lines = []
            for line in area.lines:
                path = PATH_SEP.join((plant.enterprise, site.id, area.id, line.id))
                if not caller.sees(path):
                    continue
                where = {a.id: f"{path}/{c.id}/{a.id}" for c in line.cells for a in c.assets}
                lines.append({"id": line.id, "path": path, "name": line.name or line.id,
                              "flow": [where[a] for a in line.flow],
                              "cells": [{"id": c.id, "name": c.name or c.id, "assets": [
                                  {"id": a.id, "path": where[a.id], "name": a.name or a.id, "type": str(a.type)}
                                  for a in c.assets]} for c in line.cells]})
            if lines:
                areas.append({"id": area.id, "name": area.name or area.id, "lines": lines})
        if areas:
            sites.append({"id": site.id, "name": site.name or site.id, "timezone": site.timezone, "areas": areas})
    return json_response({"enterprise": plant.enterprise, "sites": sites})


@router.get("/assets", response_model=list[AssetOut])
async def list_assets(twin: TwinDep, clock: ClockDep, performance: PerformanceDep, caller: Viewer,
                      prefix: Annotated[str, Query(max_length=500, description="an ISA-95 path prefix")] = ""
                      ) -> Response:
    """Every asset (under `prefix`) with its state, time in state, part counts, latest values and OEE."""
    now, oee_now = _now(clock)
    return json_response([asset_live(t, now, performance, oee_now) for t in visible(twin.assets, caller, prefix)])


@router.get("/assets/{path:path}/signals/{signal}", response_model=SignalLive)
async def get_signal(path: str, signal: str, plant_twin: TwinDep, clock: ClockDep, caller: Viewer) -> Response:
    """One property path: its metadata and live value (its history is at `.../history`, same path)."""
    twin = _asset(plant_twin, caller, path)
    spec = twin.asset.signal(signal)
    if spec is None:
        raise HTTPException(404, f"a {twin.asset.type} has no signal {signal!r}")
    now, _ = _now(clock)
    live = asset_live(twin, now)["signals"].get(signal)
    return json_response({"asset": path, "signal": signal, "live": live, "meta": {
        "name": spec.name, "unit": spec.unit, "kind": str(spec.kind), "description": spec.description}})


@router.get("/assets/{path:path}", response_model=AssetDetail)
async def get_asset(path: str, plant_twin: TwinDep, clock: ClockDep, performance: PerformanceDep,
                    caller: Viewer) -> Response:
    """One asset's live state, with the metadata of every signal its type carries and its plant-model entry."""
    twin = _asset(plant_twin, caller, path)
    now, oee_now = _now(clock)
    d = asset_live(twin, now, performance, oee_now)
    d["signal_meta"] = [{"name": s.name, "unit": s.unit, "kind": str(s.kind), "description": s.description}
                        for s in twin.asset.signals]
    d["config"] = twin.asset.config.model_dump(mode="json", exclude_none=True)
    return json_response(d)


def _asset(plant_twin: PlantTwin, caller: Principal, path: str) -> AssetTwin:
    check_scope(caller, path)
    twin = plant_twin.assets.get(path)
    if twin is None:
        raise HTTPException(404, f"no asset {path!r}")
    return twin


def _now(clock: Clock) -> tuple[datetime, int]:
    """Plant time, for ages and time in state, and as the end of the running OEE window."""
    now = clock.now()
    return now, to_micros(now)
