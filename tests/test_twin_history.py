"""History through the twin's API: series, windows, CSV, state timelines, replay of a past instant, limits; on the
embedded store and on InfluxDB (Debian's 1.6, read with InfluxQL as the twin reads 2.x through its DBRP mapping)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import AUTH_CONFIG, PROJECT, ServedApp, auth, history_store

from planning.planner import plan_job
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Sample
from twin.config import TwinConfig
from twin.main import create_app

LINE = "acme/plant1/machining/line1"
CNC, BUF = f"{LINE}/turning/cnc-1", f"{LINE}/turning/buf-1"
T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
STATES = [(0, "producing"), (600, "down"), (900, "producing"), (1000, "producing"), (1500, "starved")]
LEVELS = [(0, 0), (100, 3), (200, 8), (300, 5)]


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def build(tmp_path: Path, request: pytest.FixtureRequest | None = None, backend: str = "sqlite",
          **extra: Any) -> Any:
    history, setting = history_store(tmp_path, backend, request)
    history.write([Sample(CNC, "spindle_speed", 8000.0 + i, "rpm", at(i)) for i in range(0, 1800, 10)]
                  + [Sample(CNC, "state", s, "", at(t)) for t, s in STATES]
                  + [Sample(BUF, "level", n, "parts", at(t)) for t, n in LEVELS]
                  + [Sample(BUF, "capacity", 8, "parts", at(0))])
    history.close()
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": {"port": 1}, "auth": AUTH_CONFIG,
                                     "database": str(tmp_path / "twin.db"), "history": setting} | extra)
    return create_app(cfg, load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig), planner=plan_job)


@pytest.fixture(params=["sqlite", "influxdb"])
def api(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with (ServedApp(build(tmp_path, request, request.param)) as s,
          httpx.Client(base_url=s.url, headers=auth("viewer"), timeout=10) as c):
        yield c


def test_raw_samples_and_windows_of_one_property_path(api: httpx.Client) -> None:
    window = {"start": iso(at(100)), "end": iso(at(200))}
    body = api.get(f"/api/assets/{CNC}/signals/spindle_speed/history", params=window).json()
    assert [p["value"] for p in body["points"]] == [8000.0 + i for i in range(100, 200, 10)]
    assert body["unit"] == "rpm" and body["truncated"] is False
    newest = api.get(f"/api/history/{CNC}/spindle_speed", params=window | {"limit": 3}).json()
    assert [p["value"] for p in newest["points"]] == [8170.0, 8180.0, 8190.0] and newest["truncated"] is True
    assert api.get(f"/api/history/{CNC}/spindle_speed", params=window).json()["points"] == body["points"]
    agg = api.get(f"/api/history/{CNC}/spindle_speed", params=window | {"step_s": 50}).json()["points"]
    assert [(p["count"], p["min"], p["max"], p["mean"]) for p in agg] == [
        (5, 8100.0, 8140.0, 8120.0), (5, 8150.0, 8190.0, 8170.0)]
    now = api.get(f"/api/assets/{CNC}/signals/spindle_speed").json()
    assert now["meta"]["unit"] == "rpm" and now["live"] is None  # nothing live: no broker in this test


def test_csv_export(api: httpx.Client) -> None:
    r = api.get(f"/api/history/{CNC}/spindle_speed", params={"start": iso(at(0)), "end": iso(at(30)),
                                                            "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["ts"], float(row["value"])) for row in rows] == [(iso(at(i)), 8000.0 + i) for i in (0, 10, 20)]


def test_state_timeline(api: httpx.Client) -> None:
    body = api.get(f"/api/assets/{CNC}/timeline", params={"start": iso(at(300)), "end": iso(at(1800))}).json()
    assert [(s["state"], s["start"], s["end"]) for s in body["segments"]] == [
        ("producing", iso(at(300)), iso(at(600))), ("down", iso(at(600)), iso(at(900))),
        ("producing", iso(at(900)), iso(at(1500))), ("starved", iso(at(1500)), iso(at(1800)))]
    buf = api.get(f"/api/assets/{BUF}/timeline", params={"start": iso(at(0)), "end": iso(at(400))}).json()
    assert [s["state"] for s in buf["segments"]] == ["empty", "holding", "full", "holding"]


def test_replay_shows_the_line_as_it_was(api: httpx.Client) -> None:
    body = api.get("/api/replay", params={"at": iso(at(700))}).json()
    by_id = {a["id"]: a for a in body["assets"]}
    assert len(by_id) == 11
    assert by_id[CNC]["state"] == "down" and by_id[CNC]["state_since"] == iso(at(600))
    assert by_id[CNC]["signals"]["spindle_speed"]["value"] == 8700.0
    assert by_id[BUF]["state"] == "holding" and by_id[BUF]["signals"]["level"]["value"] == 5
    early = {a["id"]: a for a in api.get("/api/replay", params={"at": iso(at(150))}).json()["assets"]}
    assert early[BUF]["signals"]["level"]["value"] == 3 and early[CNC]["state"] == "producing"
    before = api.get("/api/replay", params={"at": iso(at(-10)), "prefix": f"{LINE}/turning"}).json()["assets"]
    assert {a["id"] for a in before} == {CNC, BUF} and all(a["signals"] == {} for a in before)


def test_bad_requests_are_named(api: httpx.Client) -> None:
    assert api.get(f"/api/history/{CNC}/nope").status_code == 404
    assert api.get(f"/api/history/{LINE}/x/nope/speed").status_code == 404
    r = api.get(f"/api/history/{CNC}/spindle_speed", params={"start": iso(at(10)), "end": iso(at(0))})
    assert r.status_code == 422 and "before" in r.json()["detail"]
    r = api.get(f"/api/history/{CNC}/spindle_speed", params={"start": iso(at(0)), "end": iso(at(86400 * 40))})
    assert r.status_code == 422


def test_expensive_requests_are_rate_limited_per_caller(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    with (ServedApp(build(tmp_path, request, rate_limits={"expensive": "3/minute"})) as s,
          httpx.Client(base_url=s.url) as c):
        got = [c.get("/api/replay", params={"at": iso(at(5))}, headers=auth("viewer")).status_code for _ in range(4)]
        assert got == [200, 200, 200, 429]
        r = c.get("/api/replay", params={"at": iso(at(5))}, headers=auth("viewer"))
        assert int(r.headers["retry-after"]) >= 1 and "test-viewer" in r.json()["detail"]
        assert c.get("/api/replay", params={"at": iso(at(5))}, headers=auth("engineer")).status_code == 200
        assert c.get("/api/assets", headers=auth("viewer")).status_code == 200  # cheap ones are not limited


def test_no_historian_is_a_conflict_not_a_crash(tmp_path: Path) -> None:
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": {"port": 1}, "auth": AUTH_CONFIG,
                                     "database": str(tmp_path / "twin.db")})
    app = create_app(cfg, load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig))
    with ServedApp(app) as s:
        r = httpx.get(f"{s.url}/api/replay", params={"at": iso(at(5))}, headers=auth("viewer"))
        assert r.status_code == 409 and "no historian" in r.json()["detail"]
