"""Historian sink: every record into a historian, the embedded file by default or InfluxDB.

Sample config (the embedded store, a SQLite file, no server)::

    - type: historian
      name: local-history
      path: /var/lib/factory-twin/history.db
      retention:                      # optional, per measurement (signal name); first match applies
        - {signals: "vibration_*", raw_days: 7, rollup_days: 365}
        - {raw_days: 90}

InfluxDB instead (2.x/3.x: writes to /api/v2/write, reads with InfluxQL through the DBRP mapping)::

    - type: historian
      name: influx
      influxdb: {url: "http://127.0.0.1:8086", database: factory, bucket: factory, org: acme,
                 token_env: INFLUX_TOKEN}

Records the historian refuses (NaN, text in a numeric signal, a malformed path, a clock far ahead) go to
the agent's quarantine with the reason and the field; the rest of the batch is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Literal, Self

import orjson
from pydantic import Field, model_validator

from edge_agent.plugins import PluginConfig, PluginContext, Refused, RetryLater, Sink, sink
from historian import Historian, RetentionRule
from historian.config import InfluxSettings, open_influx, open_sqlite
from historian.influx import InfluxError
from plantmodel.telemetry import Record


class HistorianSinkConfig(PluginConfig):
    type: Literal["historian"]
    path: Path | None = Field(None, description="the embedded store's file")
    retention: list[RetentionRule] = Field(default_factory=list, description="embedded store only")
    influxdb: InfluxSettings | None = Field(None, description="write to InfluxDB instead of a file")
    max_future_s: float = Field(3600.0, gt=0, description="refuse samples stamped further ahead of the plant clock")

    @model_validator(mode="after")
    def _one_backend(self) -> Self:
        if (self.path is None) == (self.influxdb is None):
            raise ValueError("give either path (the embedded store) or influxdb, not both or neither")
        return self


@sink
class HistorianSink(Sink):
    config_model = HistorianSinkConfig
    config: HistorianSinkConfig

    def __init__(self, config: HistorianSinkConfig, ctx: PluginContext) -> None:
        super().__init__(config, ctx)
        self.historian: Historian | None = None

    async def start(self) -> None:
        c = self.config
        if c.influxdb is not None:
            self.historian = open_influx(c.influxdb, c.max_future_s, clock=self._plant_s)
        else:
            assert c.path is not None
            self.historian = await asyncio.to_thread(open_sqlite, c.path, c.retention, c.max_future_s, self._plant_s)

    def _plant_s(self) -> float:
        return self.ctx.clock.now_us() / 1e6

    async def write(self, batch: Sequence[Record]) -> None:
        assert self.historian is not None
        try:
            report = await asyncio.to_thread(self.historian.write, batch)  # blocking I/O; keep the loop free
        except InfluxError as exc:
            if exc.retry_after_s is not None:
                raise RetryLater(str(exc), exc.retry_after_s) from None
            if not exc.retryable:
                raise Refused(str(exc)) from None
            raise
        for r in report.rejected:
            payload = orjson.dumps(asdict(r.record), default=str)
            self.ctx.quarantine.reject(f"sink:{self.config.name}", r.reason, f"{r.record.asset}.{r.field}",
                                       r.detail, payload=payload)

    async def close(self) -> None:
        if self.historian is not None:
            self.historian.close()
