"""WebSocket: the twin's changes as they happen, filtered by asset path.

``/api/ws?asset=<path prefix>&asset=...&token=<key>``. The first message is
``{"type": "snapshot", "assets": [...]}`` (the shape of ``GET /api/assets``); then
``{"type": "update", "assets": [...changed assets...], "alerts": [...]}`` at most every 200 ms. A key is
required like everywhere else: ``Authorization`` header, or ``?token=`` for browsers.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from twin.api.deps import LiveDep
from twin.auth import websocket_principal
from twin.stream_ws import Subscriber

router = APIRouter(prefix="/api", tags=["live"])


@router.websocket("/ws")
async def live(ws: WebSocket, stream: LiveDep) -> None:
    try:
        principal = websocket_principal(ws)
    except HTTPException as exc:
        await ws.close(code=1008, reason=str(exc.detail)[:120])
        return
    prefixes = tuple(p for p in ws.query_params.getlist("asset") if p)
    await ws.accept()
    closed = asyncio.Event()
    sub = Subscriber(principal, prefixes, ws.send_text)

    async def receive() -> None:
        # Clients only ever close; anything they send is read and ignored so the close is noticed.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await ws.receive_text()
        closed.set()

    reader = asyncio.create_task(receive())
    try:
        await stream.serve(sub, closed)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away mid-send
    finally:
        reader.cancel()
        with contextlib.suppress(Exception):
            await ws.close()
