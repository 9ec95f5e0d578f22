"""Response shapes, for the OpenAPI document an MES or CMMS integrates against."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SignalOut(BaseModel):
    value: float | int | str | bool
    unit: str
    ts: datetime = Field(description="source timestamp")
    quality: str
    age_s: float = Field(description="seconds since the source timestamp")


class OeeNow(BaseModel):
    window: str
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    flags: list[str]


class Parts(BaseModel):
    good: int | None
    scrap: int | None


class AssetOut(BaseModel):
    id: str = Field(description="ISA-95 path")
    name: str
    type: str
    line: str
    cell: str
    state: str
    state_since: datetime | None
    time_in_state_s: float | None
    parts: Parts
    signals: dict[str, SignalOut]
    oee: OeeNow | None = Field(description="current shift, for stations")


class SignalMeta(BaseModel):
    name: str
    unit: str
    kind: str
    description: str


class AssetDetail(AssetOut):
    signal_meta: list[SignalMeta]
    config: dict[str, object] = Field(description="the asset's entry in the plant model")


class PlantAssetOut(BaseModel):
    id: str
    path: str
    name: str
    type: str


class CellOut(BaseModel):
    id: str
    name: str
    assets: list[PlantAssetOut]


class LineOut(BaseModel):
    id: str
    path: str
    name: str
    flow: list[str] = Field(description="asset paths in the order parts move through them")
    cells: list[CellOut]


class AreaOut(BaseModel):
    id: str
    name: str
    lines: list[LineOut]


class SiteOut(BaseModel):
    id: str
    name: str
    timezone: str
    areas: list[AreaOut]


class PlantOut(BaseModel):
    enterprise: str
    sites: list[SiteOut]


class SignalLive(BaseModel):
    asset: str
    signal: str
    meta: SignalMeta
    live: SignalOut | None
