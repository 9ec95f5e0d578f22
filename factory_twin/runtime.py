"""Running async services from the command line: signals, free ports, logging, config errors."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

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


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
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
