"""The agent's configuration, with its `sources` and `sinks` unions built from the plugin registries."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from edge_agent.health import HealthSettings
from edge_agent.plugins import SINKS, SOURCES, PluginConfig, load_plugins
from edge_agent.spool import OverflowPolicy, Synchronous
from plantmodel.clock import ClockConfig
from plantmodel.config import relative_to_config
from plantmodel.plant import Ident


class SpoolSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_records: int = Field(5_000_000, ge=1, description="records kept for sinks that are behind")
    overflow: OverflowPolicy = Field(OverflowPolicy.DROP_OLDEST, description="what goes when the spool is full")
    synchronous: Synchronous = Field(Synchronous.NORMAL, description="normal: survives a crash; full: a power cut")
    commit_interval_s: float = Field(0.05, gt=0, le=5, description="longest a record waits to be committed")


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Ident
    data_dir: Path = Field(description="where the agent keeps its spool, quarantine and other state")
    plant: Path | None = Field(None, description="the plant model: which signals carry state and parts, per asset "
                                                 "type (default: the namespace's conventions)")
    batch_size: int = Field(500, ge=1, description="records per write to a sink")
    flush_interval_s: float = Field(0.2, gt=0, description="longest a record waits for its batch to fill")
    source_ready_timeout_s: float = Field(10.0, gt=0, description="wait per source before starting the next")
    spool: SpoolSettings = SpoolSettings()
    health: HealthSettings = HealthSettings()
    max_future_s: float = Field(3600.0, gt=0, description="refuse samples stamped further ahead of the plant "
                                "clock (a device whose clock jumped, a forged timestamp): quarantined, not spooled")
    clock: ClockConfig = Field(ClockConfig(), description="the plant clock: leave out for a real plant; a simulator's "
                                                          "speed and origin for a simulated one")

    @field_validator("plant")
    @classmethod
    def _beside_config(cls, plant: Path | None, info: ValidationInfo) -> Path | None:
        return relative_to_config(plant, info) if plant is not None else None


def _union(configs: list[type[PluginConfig]]) -> Any:
    if len(configs) == 1:
        return configs[0]
    return Annotated[Union[tuple(configs)], Field(discriminator="type")]  # noqa: UP007


@cache
def agent_config_model() -> type[AgentSettings]:
    load_plugins()
    return create_model(
        "AgentConfig",
        __base__=AgentSettings,
        # the union of whatever plugins registered: a type built at run time, which no checker can follow
        sources=(list[_union([c.config_model for c in SOURCES.values()])], Field(min_length=1)),  # type: ignore[misc, arg-type]
        sinks=(list[_union([c.config_model for c in SINKS.values()])], Field(min_length=1)),  # type: ignore[misc, arg-type]
    )
