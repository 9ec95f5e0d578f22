"""The three tiny interfaces of the agent, and registries that fill themselves on import.

A protocol is one module under `edge_agent/sources/` (or a sink under `edge_agent/sinks/`) that
defines a config model with a literal ``type`` and a class decorated with `@source` / `@sink`.
Nothing else needs editing: the agent's config model is built from whatever registered.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, get_args

from pydantic import BaseModel, ConfigDict

from edge_agent.quarantine import Quarantine
from plantmodel.clock import PlantClock
from plantmodel.plant import Ident
from plantmodel.telemetry import Record, Sample


class Emit(Protocol):
    """Hand samples to the agent; `committed` is called once they are durable in the spool. `source` (the
    plugin's name) is named in the quarantine for a sample the agent's intake refuses."""

    def __call__(self, samples: list[Sample], committed: Callable[[], None] | None = None,
                 source: str = "") -> None: ...


class PluginConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    name: Ident


@dataclass(frozen=True)
class PluginContext:
    agent: str
    data_dir: Path
    emit: Emit  # call on the event loop's thread
    quarantine: Quarantine
    #: (asset, signal) -> the largest value of a counter that wraps, as a source's mapping declares it
    rollovers: dict[tuple[str, str], int] = field(default_factory=dict)
    instance: str = ""  # this agent's own id (kept in data_dir): part of its MQTT client ids
    clock: PlantClock = field(default_factory=PlantClock)  # plant time (plantmodel.clock)

    def client_id(self, plugin: str) -> str:
        """An MQTT client id unique to this agent instance, and the same across its restarts (persistent
        sessions are found again); a second client with the agent's name cannot take its session over."""
        return f"{self.agent}-{plugin}" + (f"-{self.instance}" if self.instance else "")


def instance_id(data_dir: Path) -> str:
    """A random id made on the first run and kept in `data_dir`."""
    path = data_dir / "instance-id"
    try:
        found = path.read_text().strip()
        if found:
            return found
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    new = secrets.token_hex(4)
    path.write_text(new + "\n")
    return new


@dataclass(frozen=True)
class SourceHealth:
    """What a source tells the agent's health about itself (edge_agent.health reads nothing else of it)."""

    type: str
    connected: bool
    problems: list[str]  # what is wrong besides the connection (e.g. a feed gone silent)
    last_error: str | None = None
    silence_restarts: int = 0  # reconnections forced by silence
    untrusted_certificate: str | None = None  # SHA-256 (hex) of a server certificate refused until trusted


class Source(ABC):
    config_model: ClassVar[type[PluginConfig]]

    def __init__(self, config: Any, ctx: PluginContext) -> None:
        self.config, self.ctx = config, ctx
        self.ready = asyncio.Event()  # set once subscribed: values from now on are not missed
        self.connected = False
        self.last_error: str | None = None  # why the connection is down, or the last failure

    @abstractmethod
    async def run(self) -> None:
        """Read until cancelled, reconnecting by itself; never raises for a lost connection."""

    def problems(self) -> list[str]:
        """What is wrong besides the connection (e.g. a feed gone silent), for the agent's health."""
        return []

    def health(self) -> SourceHealth:
        """This source's state for the agent's health; a source with more to say extends it."""
        return SourceHealth(self.config.type, self.connected, self.problems(), self.last_error)


class Sink(ABC):
    config_model: ClassVar[type[PluginConfig]]

    def __init__(self, config: Any, ctx: PluginContext) -> None:
        self.config, self.ctx = config, ctx
        #: set by a sink whose connection is back: a retry waiting out its backoff goes at once
        self.reconnected: asyncio.Event | None = None

    async def start(self) -> None:
        """Open connections; called before any source starts."""

    @abstractmethod
    async def write(self, batch: Sequence[Record]) -> None:
        """Store the batch or raise; the agent retries a batch that raised."""

    async def close(self) -> None:
        """Release connections after the last batch."""


class RetryLater(Exception):
    """Raised by a sink when the server asked to wait (HTTP 429 or 503 with Retry-After)."""

    def __init__(self, message: str, delay_s: float) -> None:
        super().__init__(message)
        self.delay_s = delay_s


class Refused(Exception):
    """Raised by a sink that will never accept this batch (e.g. HTTP 400): it goes to the quarantine, whole."""


SOURCES: dict[str, type[Source]] = {}
SINKS: dict[str, type[Sink]] = {}


def _type_name(cls: type[Source] | type[Sink]) -> str:
    (name,) = get_args(cls.config_model.model_fields["type"].annotation)
    return name


def source(cls: type[Source]) -> type[Source]:
    SOURCES[_type_name(cls)] = cls
    return cls


def sink(cls: type[Sink]) -> type[Sink]:
    SINKS[_type_name(cls)] = cls
    return cls


def load_plugins() -> None:
    for package in ("edge_agent.sources", "edge_agent.sinks"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{package}.{info.name}")
