"""The live view of an asset, shaped for the API: state, time in state, latest values with age, current OEE.

Built per request from the twin's state with one `now`, and serialised with orjson straight to bytes: the
live endpoints are the ones polled hardest (dashboards, MES, tablets), so they skip FastAPI's re-validation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import Response

from plantmodel.telemetry import to_micros
from twin.auth import Principal
from twin.performance import LinePerformance
from twin.state import AssetTwin


def asset_live(twin: AssetTwin, now: datetime, perf: LinePerformance | None = None,
               oee_now_us: int | None = None) -> dict[str, Any]:
    d = twin.as_dict()
    now_us = to_micros(now)
    since = twin.state_since
    d["time_in_state_s"] = None if since is None else max(0.0, (now_us - to_micros(since)) / 1e6)
    for s in d["signals"].values():
        s["age_s"] = max(0.0, (now_us - to_micros(s["ts"])) / 1e6)
    d["oee"] = None
    if perf is not None and oee_now_us is not None and twin.asset.path in perf.oee.assets:
        w = perf.oee.current(twin.asset.path, "shift", oee_now_us)
        if w is not None:
            k = w.kpis
            d["oee"] = {"window": w.key, "availability": k.availability, "performance": k.effectiveness,
                        "quality": k.quality, "oee": k.oee, "flags": list(k.flags)}
    return d


def visible(twins: dict[str, AssetTwin], caller: Principal, prefix: str = "") -> list[AssetTwin]:
    return [t for path, t in twins.items()
            if caller.sees(path) and (not prefix or path == prefix or path.startswith(prefix.rstrip("/") + "/"))]


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z), status_code=status_code,
                    media_type="application/json")
