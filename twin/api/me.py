"""Who the caller is: the web UI shows it and hides what the role may not do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(prefix="/api", tags=["auth"])


@router.get("/me")
async def me(request: Request) -> dict[str, Any]:
    return request.state.principal.as_dict()
