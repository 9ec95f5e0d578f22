"""The twin service's configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from plantmodel import mqtt


class TwinConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    plant: Path = Field(description="plant model YAML; relative paths are taken from this file's folder")
    broker: mqtt.BrokerConfig = mqtt.BrokerConfig()
    client_id: str = "factory-twin-service"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
