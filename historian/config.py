"""Which historian to open, as configuration: the embedded file (default) or an InfluxDB server.

Used by the agent's historian sink and by anything else that opens a historian from YAML. Secrets are
never in YAML: ``token_env`` names the environment variable that holds the InfluxDB token.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from historian.base import Historian
from historian.retention import RetentionRule


class InfluxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://", description="base URL of the server, e.g. http://127.0.0.1:8086")
    database: str = Field(min_length=1, description="InfluxQL database (on 2.x: the DBRP mapping's database)")
    retention_policy: str | None = Field(None, description="InfluxQL retention policy; none: the default")
    write_api: Literal["v2", "v1"] = Field("v2", description="v2: /api/v2/write (2.x, 3.x); v1: /write (1.x)")
    bucket: str | None = Field(None, description="v2 bucket written to; none: the database name")
    org: str = Field("", description="v2 organisation")
    token_env: str | None = Field(None, description="environment variable holding the API token")
    token_file: Path | None = Field(None, description="file holding the API token (e.g. a Docker secret)")
    timeout_s: float = Field(10.0, gt=0)


def influx_token(settings: InfluxSettings, env: Mapping[str, str] | None = None) -> str | None:
    """The token from `token_env` (in `env`, default the process environment) or `token_file`; ValueError
    naming the variable or file when it is not there."""
    env = os.environ if env is None else env
    token = env.get(settings.token_env, "") if settings.token_env else None
    if settings.token_env and not token:
        raise ValueError(f"environment variable {settings.token_env} (the InfluxDB token) is not set")
    if settings.token_file is not None:
        try:
            token = settings.token_file.read_text().strip()
        except OSError as exc:
            raise ValueError(f"cannot read the InfluxDB token from {settings.token_file}: {exc.strerror}") from None
    return token


def open_influx(settings: InfluxSettings, max_future_s: float = 3600.0, *, token: str | None = None,
                readonly: bool = False, clock: Callable[[], float] = time.time) -> Historian:
    """`token`: already read (a reader in another process); default: `influx_token(settings)`. `clock`: plant
    time in seconds, against which future timestamps are judged."""
    from historian.influx import InfluxHistorian

    if token is None:
        token = influx_token(settings)
    return InfluxHistorian(settings.url, settings.database, retention_policy=settings.retention_policy,
                           write_api=settings.write_api, bucket=settings.bucket, org=settings.org, token=token,
                           timeout_s=settings.timeout_s, max_future_s=max_future_s, clock=clock,
                           readonly=readonly)


def open_sqlite(path: Path, retention: list[RetentionRule], max_future_s: float = 3600.0,
                clock: Callable[[], float] = time.time) -> Historian:
    """`clock`: plant time in seconds (plantmodel.clock), against which future timestamps and retention are judged."""
    from historian.sqlite import SqliteHistorian

    return SqliteHistorian(path, retention=retention, max_future_s=max_future_s, clock=clock)
