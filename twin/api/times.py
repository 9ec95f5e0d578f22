"""Instants from callers: made UTC and kept within years the service can compute with.

Python's datetime reaches from year 1 to 9999, and arithmetic near either end overflows (a 500, not an
answer); nothing the twin stores lies outside 1970 to 2200, so anything else is a clear 422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def utc(t: datetime) -> datetime:
    """Naive instants count as UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def in_range(t: datetime, field: str) -> datetime:
    """`t` in UTC, or a 422 when it lies outside 1970 to 2200."""
    try:
        t = utc(t)
        ok = EARLIEST <= t < LATEST
    except (OverflowError, ValueError):  # fell off either end of datetime while converting
        ok = False
    if not ok:
        raise HTTPException(422, [{"loc": ["query", field], "type": "value_error",
                                   "msg": f"{field} must lie between {EARLIEST.year} and {LATEST.year}"}])
    return t
