"""Scope on every route: a caller scoped to another line learns nothing of line 1 and changes nothing there.

The routes are enumerated from the app itself, so a new route fails this test until it is classified here
(and so checked): `filtered` (answers, with the caller's part of the plant only), `hidden` (a line-1 object
is 404 to an outsider), `write` (refused for an outsider, not for an insider), `plant_wide` (refused to every
scoped caller), `public` (no plant data in it).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets.sync.client as ws_client
from fastapi.routing import iter_route_contexts
from support import PROJECT, ServedApp

from historian import SqliteHistorian
from plantmodel.telemetry import Event, EventKind, Sample
from twin.app_state import services_of
from twin.config import TwinConfig, load_twin
from twin.main import create_app

LINE = "acme/plant1/machining/line1"
ELSEWHERE = "acme/plant1/machining/line2"
CNC = f"{LINE}/turning/cnc-1"
MARKERS = ("8123.456", "secret-reason-7", "E204")  # data only the twin knows: never shown to an outsider
KEYS = {"inside": "inside-engineer-key-0001", "inside2": "inside-engineer-key-0002",
        "outside": "outside-engineer-key-0003", "admin": "plant-admin-key-00000004"}

KIND = {
    ("GET", "/openapi.json"): "public", ("GET", "/docs"): "public", ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/api/assets/{path:path}/signals/{signal}/history"): "hidden",
    ("GET", "/api/history/{path:path}"): "hidden",
    ("GET", "/api/assets/{path:path}/timeline"): "hidden",
    ("GET", "/api/replay"): "filtered",
    ("GET", "/api/plant"): "filtered",
    ("GET", "/api/assets"): "filtered",
    ("GET", "/api/assets/{path:path}/signals/{signal}"): "hidden",
    ("GET", "/api/assets/{path:path}"): "hidden",
    ("GET", "/api/oee"): "filtered",
    ("GET", "/api/oee/history"): "hidden",
    ("GET", "/api/oee/{path:path}"): "hidden",
    ("GET", "/api/downtime"): "filtered",
    ("POST", "/api/downtime/{stop_id:path}/reason"): "write",
    ("GET", "/api/downtime/pareto"): "filtered",
    ("GET", "/api/downtime/reasons"): "filtered",  # a scoped caller: the codes that occurred in scope
    ("GET", "/api/spc"): "filtered",
    ("GET", "/api/anomaly"): "filtered",
    ("POST", "/api/anomaly/{path:path}/train"): "write",
    ("GET", "/api/alerts"): "filtered",
    ("GET", "/api/alerts/summary"): "filtered",
    ("GET", "/api/alerts/notifications"): "filtered",
    ("GET", "/api/alerts/{alert_id}"): "hidden",
    ("POST", "/api/alerts/{alert_id}/{action}"): "write",
    ("GET", "/api/health"): "public",
    ("GET", "/api/rejected"): "filtered",
    ("GET", "/api/me"): "public",
    ("GET", "/api/clock"): "public",  # plant time: no plant data
    ("POST", "/api/jobs"): "write",
    ("GET", "/api/jobs"): "filtered",
    ("GET", "/api/jobs/{job_id}"): "hidden",
    ("DELETE", "/api/jobs/{job_id}"): "write",
    ("GET", "/api/commands/allowed"): "hidden",  # with ?asset=: the commands allowed on that asset
    ("POST", "/api/commands"): "write",
    ("POST", "/api/commands/{command_id}/approve"): "write",
    ("POST", "/api/commands/{command_id}/reject"): "write",
    ("GET", "/api/commands"): "filtered",
    ("GET", "/api/commands/{command_id}"): "hidden",
    ("GET", "/api/audit"): "filtered",
    ("GET", "/api/decisions"): "filtered",
    ("GET", "/api/decisions/{decision_id}"): "hidden",
    ("POST", "/api/decisions"): "write",
    ("POST", "/api/decisions/{decision_id}/reject"): "write",
    ("GET", "/metrics"): "plant_wide",
    ("WS", "/api/ws"): "filtered",
}


#: routes whose answers name assets: the insider must find line 1 in them (the others answer with counts,
#: reasons or the allow-list)
SHOWS_PATHS = {"/api/assets/{path:path}/signals/{signal}/history", "/api/history/{path:path}",
               "/api/assets/{path:path}/timeline", "/api/replay", "/api/plant", "/api/assets",
               "/api/assets/{path:path}/signals/{signal}", "/api/assets/{path:path}", "/api/oee",
               "/api/oee/{path:path}",
               "/api/downtime", "/api/spc", "/api/anomaly", "/api/alerts", "/api/alerts/{alert_id}", "/api/jobs",
               "/api/jobs/{job_id}", "/api/commands", "/api/commands/{command_id}", "/api/decisions",
               "/api/decisions/{decision_id}"}


def routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for ctx in iter_route_contexts(app.router.routes):
        if not ctx.path:
            continue  # the web UI's static files: no plant data
        methods = sorted((ctx.methods or {"WS"}) - {"HEAD"})
        out += [(m, ctx.path) for m in methods]
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("scope")
    now = datetime.now(UTC).replace(microsecond=0)
    history = SqliteHistorian(tmp / "history.db")
    history.write([Sample(CNC, "spindle_speed", 8123.456, "rpm", now - timedelta(minutes=5))])
    history.close()
    env = {"FT_DATA_DIR": str(tmp)}
    cfg, plant, calendar = load_twin(PROJECT / "configs" / "twin-demo.yaml", env)
    keys = [{"name": "inside", "role": "engineer", "key_env": "K_IN", "scope": [LINE]},
            {"name": "inside-2", "role": "engineer", "key_env": "K_IN2", "scope": [LINE]},
            {"name": "outside", "role": "engineer", "key_env": "K_OUT", "scope": [ELSEWHERE]},
            {"name": "admin", "role": "admin", "key_env": "K_ADMIN"}]
    doc = cfg.model_dump()
    doc |= {"broker": {"port": 1}, "database": tmp / "twin.db", "history": tmp / "history.db",
            "auth": {"api_keys": keys}, "anomaly": doc["anomaly"] | {"model_dir": tmp / "models"}}
    cfg = TwinConfig.model_validate(doc)
    app = create_app(cfg, plant, calendar, {"K_IN": KEYS["inside"], "K_IN2": KEYS["inside2"],
                                            "K_OUT": KEYS["outside"], "K_ADMIN": KEYS["admin"]})
    twin = services_of(app).twin
    t0 = now - timedelta(hours=2)
    twin.apply(Event(CNC, EventKind.STATE_CHANGE, t0, {"to": "producing"}))
    twin.apply(Event(CNC, EventKind.STATE_CHANGE, t0 + timedelta(minutes=30), {"to": "down", "reason": "E204"}))
    twin.apply(Event(CNC, EventKind.STATE_CHANGE, t0 + timedelta(minutes=60), {"to": "producing"}))
    for i in range(0, 120, 5):  # over the spindle-hot limit for longer than its on-delay: an alert
        twin.apply(Sample(CNC, "spindle_temperature", 60.0, "degC", now - timedelta(seconds=120 - i)))
    twin.apply(Sample(CNC, "spindle_speed", 8123.456, "rpm", now))
    with ServedApp(app) as s:
        inside = httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {KEYS['inside']}"}, timeout=20)
        command = inside.post("/api/commands", json={"asset": CNC, "command": "reduce_speed", "value": 80,
                                                     "reason": "secret-reason-7"})
        assert command.status_code == 201, command.text
        job_id = services_of(app).job_store.add("inside", LINE, {"hours": 1}, None, {}, now.timestamp())
        decision_id = services_of(app).decisions.book.add(CNC, "asked by inside", now.timestamp())
        [alert] = inside.get("/api/alerts").json()
        [stop] = [st for st in inside.get("/api/downtime").json() if st["code"] == "E204"]
        ids = {"path": CNC, "signal": "spindle_speed", "stop_id": stop["id"], "alert_id": str(alert["id"]),
               "action": "ack", "command_id": str(command.json()["id"]), "job_id": job_id,
               "decision_id": str(decision_id)}
        yield s, app, ids, now
        inside.close()


def _url(path: str, ids: dict[str, str]) -> str:
    if path == "/api/history/{path:path}":
        return f"/api/history/{CNC}/spindle_speed"
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: ids[m.group(1)], path)


BODIES: dict[str, Any] = {
    "/api/downtime/{stop_id:path}/reason": {"reason": "coolant"},
    "/api/anomaly/{path:path}/train": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
    "/api/alerts/{alert_id}/{action}": {"comment": "seen"},
    "/api/jobs": {"scenario": {"hours": 1, "replications": 2,
                               "variants": [{"name": "x", "set": {"buf-1.capacity": 3}}]}},
    "/api/commands": {"asset": CNC, "command": "reduce_speed", "value": 70, "reason": "x"},
    "/api/commands/{command_id}/approve": {"comment": "ok"},
    "/api/commands/{command_id}/reject": {"comment": "no"},
    "/api/decisions": {"asset": CNC},
    "/api/decisions/{decision_id}/reject": {"comment": "no"},
}


def call(s: ServedApp, who: str, method: str, path: str, ids: dict[str, str], now: datetime) -> httpx.Response:
    params = {"asset": CNC, "at": now.isoformat(), "start": (now - timedelta(hours=3)).isoformat(),
              "end": now.isoformat()}
    if path.startswith(("/api/history", "/api/assets")):
        params.pop("asset")  # there `asset` would filter, here it would only confuse
    headers = {"Authorization": f"Bearer {KEYS[who]}"}
    return httpx.request(method, f"{s.url}{_url(path, ids)}", params=params, headers=headers,
                         json=BODIES.get(path) if method in ("POST", "PUT") else None, timeout=30)


def test_every_route_is_classified(served: Any) -> None:
    _, app, _, _ = served
    found = set(routes(app))
    assert found - set(KIND) == set(), f"classify these routes in KIND (and so check their scope): {found - set(KIND)}"
    assert set(KIND) - found == set(), f"routes gone: {set(KIND) - found}"


def test_an_outsider_learns_nothing_and_changes_nothing(served: Any) -> None:
    s, app, ids, now = served
    for method, path in sorted(routes(app)):
        kind = KIND[(method, path)]
        if method == "WS":
            url = s.url.replace("http", "ws") + f"/api/ws?token={KEYS['outside']}"
            with ws_client.connect(url, open_timeout=10) as conn:
                snapshot = json.loads(conn.recv(timeout=10))
            assert snapshot["type"] == "snapshot" and snapshot["assets"] == []
            continue
        r = call(s, "outside", method, path, ids, now)
        where = f"{method} {path} -> {r.status_code}: {r.text[:300]}"
        assert r.status_code < 500, where
        assert not any(m in r.text for m in MARKERS), f"leaks line-1 data: {where}"
        if kind == "filtered":
            assert r.status_code == 200 and LINE not in r.text, where
        elif kind in ("hidden", "write"):
            assert r.status_code in (403, 404), where
        elif kind == "plant_wide":
            assert r.status_code == 403, where
        else:
            assert r.status_code == 200, where
    # nothing changed on line 1
    admin = {"Authorization": f"Bearer {KEYS['admin']}"}
    assert httpx.get(f"{s.url}/api/alerts/{ids['alert_id']}", headers=admin).json()["state"] == "active"
    assert httpx.get(f"{s.url}/api/commands/{ids['command_id']}", headers=admin).json()["state"] == "pending"
    assert httpx.get(f"{s.url}/api/jobs/{ids['job_id']}", headers=admin).json()["state"] == "queued"
    stops = httpx.get(f"{s.url}/api/downtime", headers=admin).json()
    assert next(st for st in stops if st["id"] == ids["stop_id"])["reason_source"] != "operator"
    assert [e for e in httpx.get(f"{s.url}/api/audit", headers=admin).json() if e["who"] == "outside"] == []


def test_an_insider_is_served(served: Any) -> None:
    s, app, ids, now = served
    for method, path in sorted(routes(app)):
        kind = KIND[(method, path)]
        if method == "WS" or kind == "write":
            continue  # writes change state: covered by the other tests of their routes
        r = call(s, "inside", method, path, ids, now)
        where = f"{method} {path} -> {r.status_code}: {r.text[:300]}"
        assert r.status_code == (403 if kind == "plant_wide" else 200), where
        if kind in ("filtered", "hidden") and path in SHOWS_PATHS:
            assert LINE in r.text, f"the insider should see line 1 here: {where}"


def test_retraining_is_scoped_bounded_rate_limited_and_audited(served: Any) -> None:
    s, _, _, now = served
    inside = {"Authorization": f"Bearer {KEYS['inside']}"}
    week = {"start": (now - timedelta(days=7)).isoformat(), "end": now.isoformat()}
    r = httpx.post(f"{s.url}/api/anomaly/{CNC}/train", json=week, headers=inside)
    assert r.status_code == 422 and "24 h" in r.text
    hour = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    r = httpx.post(f"{s.url}/api/anomaly/{CNC}/train", json=hour, headers=inside, timeout=30)
    assert r.status_code == 422  # too little history for a model: refused, and kept in the audit
    audit = httpx.get(f"{s.url}/api/audit", headers=inside).json()
    assert any(e["who"] == "inside" and e["action"] == "retrain_refused" and e["asset"] == CNC for e in audit)
