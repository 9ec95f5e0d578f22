"""The twin's HTTP API against hostile and clumsy callers, served by uvicorn on loopback.

Bodies too big for the service are refused before authentication and parsing (declared or streamed); a history
request too big for one answer is a clear 422; instants outside the years the service computes with are a 422,
not a 500; keys are per person, long and not placeholders; a bearer token that does not say what it may see
sees nothing; the key is read from a query string on the WebSocket only; answers carry a
Content-Security-Policy that forbids framing.
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from support import API_KEYS, AUTH_CONFIG, PROJECT, ServedApp, auth

from historian import SqliteHistorian
from plantmodel.config import ConfigError, load_config, parse_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Sample
from twin.auth import AuthError
from twin.config import TwinConfig
from twin.main import create_app

LINE = "acme/plant1/machining/line1"
CNC = f"{LINE}/turning/cnc-1"
SECRET = "a-test-signing-secret-of-at-least-32-bytes!"


def plant() -> PlantConfig:
    return load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig)


def app_with(tmp_path: Path, **extra: Any) -> Any:
    history = SqliteHistorian(tmp_path / "history.db")
    now = datetime.now(UTC)
    history.write([Sample(CNC, "spindle_speed", 8000.0 + i, "rpm", now - timedelta(seconds=i)) for i in range(600)])
    history.close()
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": {"port": 1}, "auth": AUTH_CONFIG,
                                     "database": str(tmp_path / "twin.db"),
                                     "history": str(tmp_path / "history.db")} | extra)
    return create_app(cfg, plant())


@pytest.fixture()
def served(tmp_path: Path) -> Any:
    with ServedApp(app_with(tmp_path, rate_limits={"expensive": "10000/minute"})) as s:
        yield s


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def raw_post(port: int, head: bytes, chunks: int, chunk: bytes) -> tuple[bytes, int]:
    """Send a request head and then body chunks until the server answers or closes; what it said, and how
    many body bytes went out before that."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        s.setblocking(False)
        answer = b""
        for _ in range(chunks):
            try:
                answer += s.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                s.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        s.setblocking(True)
        s.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                more = s.recv(65536)
                if not more:
                    break
                answer += more
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent


def test_a_huge_body_is_refused_before_auth_and_parsing(served: ServedApp) -> None:
    before = rss_mb()
    head = (b"POST /api/commands HTTP/1.1\r\nHost: twin\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200000000\r\n\r\n")
    answer, _ = raw_post(served.port, head, 10, b"[" * 1_000_000)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    chunked = b"POST /api/jobs HTTP/1.1\r\nHost: twin\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b"100000\r\n" + b"[" * 0x100000 + b"\r\n"  # 1 MiB chunks, no end: 200 MB if the server kept reading
    answer, sent = raw_post(served.port, chunked, 200, piece)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 50 * 0x100000, f"{sent} bytes went in before the refusal"
    assert rss_mb() - before < 100, f"RSS grew by {rss_mb() - before:.0f} MB"
    # a normal request on a fresh connection is served as before
    assert httpx.get(f"{served.url}/api/assets", headers=auth("viewer")).status_code == 200


def test_history_is_bounded_per_request(served: ServedApp) -> None:
    now = datetime.now(UTC)
    month = {"start": (now - timedelta(days=31)).isoformat(), "end": now.isoformat()}
    r = httpx.get(f"{served.url}/api/history/{CNC}/spindle_speed", params=month | {"step_s": 1, "format": "csv"},
                  headers=auth("viewer"))
    assert r.status_code == 422 and "step_s of at least 54" in r.text, r.text
    r = httpx.get(f"{served.url}/api/history/{CNC}/spindle_speed", params=month | {"step_s": 60},
                  headers=auth("viewer"), timeout=60)
    assert r.status_code == 200 and len(r.json()["points"]) in (31 * 1440, 31 * 1440 + 1)  # minutes, ends partial
    newest = httpx.get(f"{served.url}/api/history/{CNC}/spindle_speed", params=month | {"limit": 100},
                       headers=auth("viewer"), timeout=60).json()
    assert newest["truncated"] and len(newest["points"]) == 100
    assert newest["points"][-1]["value"] == 8000.0 and newest["points"][0]["value"] == 8099.0  # the newest 100
    csv = httpx.get(f"{served.url}/api/history/{CNC}/spindle_speed", params=month | {"format": "csv"},
                    headers=auth("viewer"), timeout=60)
    assert csv.status_code == 200 and len(csv.text.strip().splitlines()) == 601  # header and every sample


@pytest.mark.parametrize("query", [
    "/api/replay?at=0001-01-01T00:00:00", "/api/replay?at=9999-12-31T23:59:59",
    f"/api/history/{CNC}/spindle_speed?end=0001-01-01T00:00:00",
    f"/api/history/{CNC}/spindle_speed?end=9999-12-31T23:59:59",
    f"/api/history/{CNC}/spindle_speed?start=0001-01-01T00:00:00&end=0001-01-01T00:00:01",
    f"/api/assets/{CNC}/timeline?start=9999-12-31T00:00:00&end=9999-12-31T23:59:59",
    "/api/alerts?since=9999-12-31T23:59:59", "/api/alerts?since=0001-01-01T00:00:00"])
def test_instants_out_of_range_are_a_422(served: ServedApp, query: str) -> None:
    r = httpx.get(f"{served.url}{query}", headers=auth("viewer"))
    assert r.status_code == 422, r.text


def test_the_key_in_a_query_string_is_for_the_websocket_only(served: ServedApp) -> None:
    assert httpx.get(f"{served.url}/api/assets", params={"token": API_KEYS["viewer"]}).status_code == 401
    assert httpx.get(f"{served.url}/api/assets", headers=auth("viewer")).status_code == 200


def test_answers_forbid_framing_and_foreign_scripts(served: ServedApp) -> None:
    for path in ("/", "/api/assets", "/api/nope"):
        r = httpx.get(f"{served.url}{path}", headers=auth("viewer"))
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp, path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    docs = httpx.get(f"{served.url}/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    refused = httpx.post(f"{served.url}/api/commands", content=b"x" * 2_000_000)
    assert refused.status_code == 413 and "frame-ancestors" in refused.headers["content-security-policy"]


@pytest.mark.parametrize(("keys", "env", "problem"), [
    ([("a", "admin", "K1")], {"K1": "short"}, "shorter than 16"),
    ([("a", "admin", "K1")], {"K1": "change-me-change-me"}, "placeholder"),
    ([("a", "admin", "K1"), ("b", "engineer", "K2")], {"K1": "x" * 20, "K2": "x" * 20}, "same key"),
])
def test_weak_or_shared_keys_are_refused(tmp_path: Path, keys: list[tuple[str, str, str]], env: dict[str, str],
                                         problem: str) -> None:
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "database": str(tmp_path / "twin.db"), "auth": {
        "api_keys": [{"name": n, "role": r, "key_env": v} for n, r, v in keys]}})
    with pytest.raises(AuthError, match=problem):
        create_app(cfg, plant(), env=env)


def test_duplicate_key_names_are_a_config_error() -> None:
    text = (PROJECT / "configs" / "twin-demo.yaml").read_text().replace("name: engineer-b", "name: engineer-a")
    with pytest.raises(ConfigError) as err:
        parse_config(text, TwinConfig, "twin.yaml", env={})
    assert "auth.api_keys" in str(err.value) and "already the name" in str(err.value)


def test_a_shared_role_key_is_warned_about_at_start_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="twin.auth"):
        app_with(tmp_path)
    assert any("one engineer key" in r.message for r in caplog.records)
    caplog.clear()
    per_person = {"api_keys": [{"name": "ana", "role": "engineer", "key_env": "K1"},
                               {"name": "ben", "role": "engineer", "key_env": "K2"}]}
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "database": str(tmp_path / "t2.db"),
                                     "auth": per_person})
    with caplog.at_level(logging.WARNING, logger="twin.auth"):
        create_app(cfg, plant(), env={"K1": "k" * 20, "K2": "j" * 20})
    assert not [r for r in caplog.records if "key" in r.message]


def token(**claims: Any) -> str:
    body = {"preferred_username": "j.doe", "roles": ["engineer"], "aud": "factory-twin",
            "exp": int(time.time()) + 300} | claims
    return jwt.encode({k: v for k, v in body.items() if v is not ...}, SECRET, algorithm="HS256")


OAUTH = {"oauth2": {"algorithms": ["HS256"], "secret_env": "JWT_SECRET", "audience": "factory-twin",
                   "scope_claim": "lines"}}
CONTROL = {"endpoint": "opc.tcp://127.0.0.1:1/none/", "timeout_s": 1, "commands": [
    {"name": "reduce_speed", "assets": ["*/cnc-*"], "kind": "write", "browse_name": "speed_override",
     "value": "double", "min": 50, "max": 100}]}


def test_a_tokens_scope_claim_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    with ServedApp(app_with(tmp_path, auth=AUTH_CONFIG | OAUTH)) as s:
        def me(**claims: Any) -> httpx.Response:
            return httpx.get(f"{s.url}/api/me", headers={"Authorization": f"Bearer {token(**claims)}"})

        for bad in ([], ..., None, 5, {"line": LINE}, [5], [""], [LINE, None]):
            r = me(lines=bad)
            assert r.status_code == 403 and "lines" in r.text, (bad, r.text)
        assert me(lines=[LINE]).json()["scope"] == [LINE]
        assert me(lines=LINE).json()["scope"] == [LINE]
        assert me(lines=["*"]).json()["scope"] == []
        assert me(lines=["*"], preferred_username=..., sub="s-17").json()["identity"] == "jwt:s-17"
        assert me(lines=["*"], preferred_username=...).status_code == 403  # a token naming nobody


def test_four_eyes_compares_identities_not_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token whose user name equals a key's name is another identity (jwt:<name>): it can neither pass for
    the key holder in the audit nor approve its own request under that name."""
    monkeypatch.setenv("JWT_SECRET", SECRET)
    with ServedApp(app_with(tmp_path, auth=AUTH_CONFIG | OAUTH, control=CONTROL)) as s:
        as_jwt = {"Authorization": f"Bearer {token(preferred_username='test-engineer', lines=['*'])}"}
        body = {"asset": CNC, "command": "reduce_speed", "value": 80, "reason": "bearing noise"}
        mine = httpx.post(f"{s.url}/api/commands", json=body, headers=as_jwt).json()
        assert mine["requested_by"] == "jwt:test-engineer"
        own = httpx.post(f"{s.url}/api/commands/{mine['id']}/approve", json={"comment": "ok"}, headers=as_jwt)
        assert own.status_code == 403
        by_key = httpx.post(f"{s.url}/api/commands", json=body, headers=auth("engineer")).json()
        assert by_key["requested_by"] == "test-engineer"
        other = httpx.post(f"{s.url}/api/commands/{by_key['id']}/approve", json={"comment": "ok"}, headers=as_jwt,
                           timeout=30)
        assert other.status_code == 200 and other.json()["decided_by"] == "jwt:test-engineer"
        audit = httpx.get(f"{s.url}/api/audit", headers=auth("engineer")).json()
        assert {e["who"] for e in audit} >= {"jwt:test-engineer", "test-engineer"}
