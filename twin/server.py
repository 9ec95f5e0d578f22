"""Run the app with uvicorn inside an event loop we own, stopped by our own signal handling."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The caller owns SIGINT/SIGTERM; uvicorn would re-raise them after shutdown.
        yield


async def serve_http(app: FastAPI, host: str, port: int, stop: asyncio.Event,
                     ready: asyncio.Event | None = None) -> None:
    server = _EmbeddedServer(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    # Bind here so a port in use is a clear OSError, not uvicorn's sys.exit inside a task. The protocol is
    # named: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and without it a keep-alive
    # client waits ~40 ms per response (Nagle against delayed ACK).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises if start-up failed (port in use, lifespan error)
                raise RuntimeError(f"HTTP server on {host}:{port} stopped during start-up")
            await asyncio.sleep(0.02)
        if ready:
            ready.set()
        await stop.wait()
    finally:
        server.should_exit = True
        await task
