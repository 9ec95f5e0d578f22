"""The MQTT unified namespace (UNS): topics follow the ISA-95 path, payloads are small JSON objects.

Topics and payloads:

- a sample: ``<enterprise>/<site>/<area>/<line>/<cell>/<asset>/<signal>``
  ``{"value": 11987.5, "unit": "rpm", "ts": "2026-11-29T14:00:00.125000Z", "quality": "good"}``
- an event: ``<enterprise>/<site>/<area>/<line>/<cell>/<asset>/_event/<kind>``
  ``{"ts": "...", "from": "starved", "to": "producing"}`` (the event's data, flattened in)

Signal names never start with ``_``; that prefix is reserved for the namespace's own levels.
Messages are published retained, so a new subscriber sees every signal's latest value at once.

>>> from datetime import datetime, timezone
>>> s = Sample("a/b/c/d/e/f", "speed", 1.5, "m/s", datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> topic, payload = encode(s)
>>> topic, decode(topic, payload) == s
('a/b/c/d/e/f/speed', True)
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson

from plantmodel.telemetry import Event, EventKind, Quality, Record, Sample, from_micros, utc

ASSET_DEPTH = 6  # enterprise / site / area / line / cell / asset
EVENT_LEVEL = "_event"


class PayloadError(ValueError):
    """A message that cannot become a record; `field` names what was wrong, `reason` is a short code."""

    def __init__(self, field: str, reason: str, detail: str) -> None:
        self.field, self.reason, self.detail = field, reason, detail
        super().__init__(f"{field}: {detail}")


def topic_of(record: Record) -> str:
    if isinstance(record, Sample):
        return f"{record.asset}/{record.signal}"
    return f"{record.asset}/{EVENT_LEVEL}/{record.kind}"


def encode(record: Record) -> tuple[str, bytes]:
    if isinstance(record, Sample):
        body: dict[str, Any] = {"value": record.value, "unit": record.unit,
                                "ts": format_ts(record.ts), "quality": str(record.quality)}
        if record.status:
            body["status"] = record.status  # the exact code behind the quality (OPC-UA StatusCode)
        if record.server_ts is not None:
            body["server_ts"] = format_ts(record.server_ts)
    else:
        body = {"ts": format_ts(record.ts), **record.data}
    return topic_of(record), orjson.dumps(body)


def decode(topic: str, payload: bytes) -> Record:
    levels = topic.split("/")
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("payload", "malformed_json", f"not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise PayloadError("payload", "malformed_json", "expected a JSON object")
    ts = parse_ts(body.get("ts"), "ts")
    if len(levels) == ASSET_DEPTH + 2 and levels[ASSET_DEPTH] == EVENT_LEVEL:
        try:
            kind = EventKind(levels[-1])
        except ValueError:
            raise PayloadError("topic", "unknown_event", f"unknown event kind {levels[-1]!r}") from None
        data = {k: v for k, v in body.items() if k != "ts"}
        return Event("/".join(levels[:ASSET_DEPTH]), kind, ts, data)
    if len(levels) != ASSET_DEPTH + 1 or not all(levels) or levels[-1].startswith("_"):
        raise PayloadError("topic", "bad_topic",
                           f"expected <enterprise>/<site>/<area>/<line>/<cell>/<asset>/<signal>, got {topic!r}")
    value = check_value(body.get("value"), "value")
    unit = body.get("unit", "")
    if not isinstance(unit, str):
        raise PayloadError("unit", "wrong_type", f"expected text, got {unit!r}")
    try:
        quality = Quality(body.get("quality", "good"))
    except ValueError:
        raise PayloadError("quality", "wrong_type",
                           f"expected one of good, uncertain, bad; got {body.get('quality')!r}") from None
    status = body.get("status", 0)
    if not isinstance(status, int) or isinstance(status, bool) or not 0 <= status < 2**32:
        raise PayloadError("status", "wrong_type", f"expected a 32-bit status code, got {status!r}")
    server_ts = parse_ts(body["server_ts"], "server_ts") if body.get("server_ts") is not None else None
    return Sample("/".join(levels[:-1]), levels[-1], value, unit, ts, quality, status, server_ts)


def check_value(value: Any, field: str) -> float | int | bool | str:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(field, "not_finite", f"expected a finite number, got {value!r}")
        return value
    raise PayloadError(field, "wrong_type" if value is not None else "missing",
                       f"expected a number, text or boolean, got {value!r}")


def format_ts(ts: datetime) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: epoch numbers below this are seconds, above it milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973
EPOCH_SECONDS_BELOW = 1e11


def parse_ts(raw: Any, field: str) -> datetime:
    """ISO 8601 text, or an epoch number: milliseconds (what many gateways send) or seconds (what Unix tools
    send), told apart by size, so a time in seconds never silently becomes a date in 1970.

    >>> parse_ts(1764928800, "ts").isoformat(), parse_ts(1764928800000, "ts").isoformat()
    ('2025-12-05T10:00:00+00:00', '2025-12-05T10:00:00+00:00')
    """
    if isinstance(raw, str):
        try:
            return utc(datetime.fromisoformat(raw))
        except (ValueError, OverflowError):  # not ISO 8601, or out of range once in UTC
            pass
    elif isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        try:
            return from_micros(round(raw * (1_000_000 if abs(raw) < EPOCH_SECONDS_BELOW else 1000)))
        except (OverflowError, OSError, ValueError):  # beyond the years datetime can hold
            pass
    raise PayloadError(field, "bad_timestamp" if raw is not None else "missing",
                       f"expected an ISO 8601 timestamp or epoch seconds or milliseconds, got {raw!r}")
