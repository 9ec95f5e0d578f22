"""Historian sink: every record into the embedded historian (a SQLite file, no server).

Sample config::

    - type: historian
      name: local-history
      path: /var/lib/factory-twin/history.db
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from edge_agent.plugins import PluginConfig, PluginContext, Sink, sink
from historian import SqliteHistorian
from plantmodel.telemetry import Record


class HistorianSinkConfig(PluginConfig):
    type: Literal["historian"]
    path: Path


@sink
class HistorianSink(Sink):
    config_model = HistorianSinkConfig
    config: HistorianSinkConfig

    def __init__(self, config: HistorianSinkConfig, ctx: PluginContext) -> None:
        super().__init__(config, ctx)
        self.historian: SqliteHistorian | None = None

    async def start(self) -> None:
        self.historian = await asyncio.to_thread(SqliteHistorian, self.config.path)

    async def write(self, batch: Sequence[Record]) -> None:
        assert self.historian is not None
        await asyncio.to_thread(self.historian.write, batch)  # SQLite blocks; keep the loop free

    async def close(self) -> None:
        if self.historian is not None:
            self.historian.close()
