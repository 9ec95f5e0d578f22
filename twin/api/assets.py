"""Assets and their live state.

Handlers are async: they run on the event loop, the single writer of the twin's state.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

router = APIRouter(prefix="/api", tags=["assets"])


@router.get("/assets")
async def list_assets(request: Request) -> list[dict[str, Any]]:
    """Every asset of the plant with its state, part counts and latest signal values."""
    return request.app.state.twin.snapshot()


@router.get("/assets/{path:path}")
async def get_asset(path: str, request: Request) -> dict[str, Any]:
    twin = request.app.state.twin.assets.get(path)
    if twin is None:
        raise HTTPException(404, f"no asset {path!r}")
    return twin.as_dict()
