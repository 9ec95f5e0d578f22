"""Authentication and roles on the twin's API: on by default, keys and JWTs, scopes, CORS closed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from support import API_KEYS, AUTH_CONFIG, PROJECT, ServedApp, auth

from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from twin.auth import AuthError, Principal, Role
from twin.config import TwinConfig
from twin.main import create_app

LINE = "acme/plant1/machining/line1"
CNC = f"{LINE}/turning/cnc-1"
SECRET = "a-test-signing-secret-of-at-least-32-bytes!"


def plant() -> PlantConfig:
    return load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig)


def app_with(tmp_path: Path, auth_config: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": {"port": 1},  # no broker needed
                                     "database": str(tmp_path / "twin.db"), "auth": auth_config})
    return create_app(cfg, plant(), env=env)


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    scoped = {"name": "line2-viewer", "role": "viewer", "key_env": "LINE2_KEY", "scope": ["acme/plant1/x/line2"]}
    config = AUTH_CONFIG | {"api_keys": [*AUTH_CONFIG["api_keys"], scoped],
                            "oauth2": {"algorithms": ["HS256"], "secret_env": "JWT_SECRET", "audience": "factory-twin",
                                       "scope_claim": "lines"}}
    env = {"FT_ADMIN_KEY": API_KEYS["admin"], "FT_ENGINEER_KEY": API_KEYS["engineer"],
           "FT_VIEWER_KEY": API_KEYS["viewer"], "LINE2_KEY": "line2-key-0123456789", "JWT_SECRET": SECRET}
    with ServedApp(app_with(tmp_path, config, env)) as served, httpx.Client(base_url=served.url, timeout=10) as c:
        yield c


def token(roles: list[str], exp_in: float = 300, **claims: Any) -> str:
    body = {"preferred_username": "j.doe", "roles": roles, "aud": "factory-twin", "exp": int(time.time() + exp_in),
            "lines": ["*"]}  # the whole plant; the service is configured with scope_claim: lines
    return jwt.encode(body | claims, SECRET, algorithm="HS256")


def test_every_route_needs_a_caller(api: httpx.Client) -> None:
    assert api.get("/api/assets").status_code == 401
    assert api.get("/api/assets", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.get("/api/assets", headers={"X-API-Key": API_KEYS["viewer"]}).status_code == 200
    assert api.get("/api/me", headers=auth("viewer")).json() == {"name": "test-viewer", "identity": "test-viewer",
                                                                  "role": "viewer", "scope": []}


def test_writes_need_an_engineer(api: httpx.Client) -> None:
    body = {"reason": "coolant pump"}
    assert api.post("/api/downtime/nope@1/reason", json=body, headers=auth("viewer")).status_code == 403
    assert api.post("/api/downtime/nope@1/reason", json=body, headers=auth("engineer")).status_code == 404
    assert api.post("/api/downtime/nope@1/reason", json=body, headers=auth("admin")).status_code == 404


def test_bearer_jwts_carry_role_name_and_scope(api: httpx.Client) -> None:
    eng = {"Authorization": f"Bearer {token(['engineer'])}"}
    assert api.get("/api/me", headers=eng).json() == {"name": "j.doe", "identity": "jwt:j.doe", "role": "engineer",
                                                      "scope": []}
    assert api.post("/api/downtime/nope@1/reason", json={"reason": "x"}, headers=eng).status_code == 404
    expired = {"Authorization": f"Bearer {token(['engineer'], exp_in=-60)}"}
    r = api.get("/api/me", headers=expired)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    forged = jwt.encode({"roles": ["admin"], "aud": "factory-twin", "exp": int(time.time()) + 60}, "x" * 40,
                        algorithm="HS256")
    assert api.get("/api/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert api.get("/api/me", headers={"Authorization": f"Bearer {token(['operator'])}"}).status_code == 403
    scoped = {"Authorization": f"Bearer {token(['viewer'], lines=[LINE])}"}
    assert {a["line"] for a in api.get("/api/assets", headers=scoped).json()} == {LINE}


def test_a_scoped_caller_sees_only_its_lines(api: httpx.Client) -> None:
    other = {"X-API-Key": "line2-key-0123456789"}
    assert api.get("/api/assets", headers=other).json() == []
    assert api.get(f"/api/assets/{CNC}", headers=other).status_code == 404
    assert api.get("/api/plant", headers=other).json()["sites"] == []
    assert len(api.get("/api/plant", headers=auth("viewer")).json()["sites"][0]["areas"][0]["lines"]) == 1


def test_cors_is_closed_unless_origins_are_configured(tmp_path: Path) -> None:
    preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    with ServedApp(app_with(tmp_path, AUTH_CONFIG)) as served:
        r = httpx.options(f"{served.url}/api/assets", headers=preflight)
        assert "access-control-allow-origin" not in r.headers
    with ServedApp(app_with(tmp_path, AUTH_CONFIG | {"cors_origins": ["http://hmi.plant"]})) as served:
        r = httpx.options(f"{served.url}/api/assets", headers=preflight | {"Origin": "http://hmi.plant"})
        assert r.headers["access-control-allow-origin"] == "http://hmi.plant"


def test_a_missing_secret_is_named_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="FT_ENGINEER_KEY is not set"):
        app_with(tmp_path, AUTH_CONFIG, env={"FT_ADMIN_KEY": "a", "FT_VIEWER_KEY": "v"})


def test_scope_is_by_path_prefix() -> None:
    p = Principal("x", Role.viewer, (LINE,))
    assert p.sees(CNC) and p.sees(LINE)
    assert not p.sees("acme/plant1/machining/line10/turning/cnc-1") and not p.sees("acme/plant1")
