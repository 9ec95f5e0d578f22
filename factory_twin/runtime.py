"""Running async services from the command line: signals, free ports, logging, config errors."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from plantmodel.config import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def config_path(name: str) -> Path:
    """A file from ./configs if present, else from the project's own configs folder."""
    local = Path("configs") / name
    return local if local.exists() else PROJECT_ROOT / "configs" / name


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line for log shippers (Loki, Elasticsearch, journald): time, level, logger, message,
    and whatever the call site passed as `extra` (asset, topic, reason, field)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        out |= {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS and not k.startswith("_")}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def setup_logging(level: str, log_format: str = "text") -> None:
    """`log_format` text (for people) or json (one object per line); FT_LOG_FORMAT overrides the default."""
    log_format = os.environ.get("FT_LOG_FORMAT", log_format) if log_format == "text" else log_format
    if log_format not in ("text", "json"):
        raise ValueError(f"log format {log_format!r}: expected text or json")
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for noisy in ("asyncua", "amqtt", "transitions", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.ERROR if level.upper() != "DEBUG" else logging.DEBUG)


def run(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run `main(stop)` until it returns; SIGINT and SIGTERM set `stop` for an orderly shutdown."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        asyncio.run(runner())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
