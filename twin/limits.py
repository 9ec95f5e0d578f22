"""Rate limits on the expensive endpoints (historian reads, replay, exports, planning jobs), per caller.

A dashboard left open with a tight refresh, or a script in a loop, must not take the historian away from
everyone else: each caller gets its own moving window; going over it is a 429 with Retry-After.
"""

from __future__ import annotations

import math
import time

from fastapi import HTTPException, Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from twin.app_state import services_of
from twin.auth import Principal, require


class CallerLimits:
    def __init__(self, expensive: str) -> None:
        self.expensive: RateLimitItem = parse(expensive)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.refused = 0

    def check(self, item: RateLimitItem, caller: Principal) -> None:
        if self._limiter.hit(item, caller.identity):
            return
        self.refused += 1
        reset = self._limiter.get_window_stats(item, caller.identity).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise HTTPException(429, f"{caller.identity}: more than {item} on expensive requests; retry in {wait} s",
                            headers={"Retry-After": str(wait)})


_viewer = require("viewer")


async def expensive(request: Request) -> Principal:
    """A FastAPI dependency: a viewer at least, and within the per-caller limit for expensive requests."""
    caller = await _viewer(request)
    limits = services_of(request.app).limits
    limits.check(limits.expensive, caller)
    return caller
