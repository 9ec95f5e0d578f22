"""What the system keeps cannot be rewritten unseen or read by other accounts: the audit log is a hash chain
that `factory-twin twin audit verify` checks (the database also refuses INSERT OR REPLACE over an entry), and
every database file is readable by its owner only."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support import AUTH_CONFIG, PROJECT, ServedApp, auth

from edge_agent.quarantine import Quarantine
from edge_agent.spool import Spool
from historian import SqliteHistorian
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from twin.app_state import services_of
from twin.commands import entry_hash
from twin.config import TwinConfig
from twin.main import create_app

CNC = "acme/plant1/machining/line1/turning/cnc-1"
SECOND = {"name": "test-engineer-2", "role": "engineer", "key_env": "FT_ENGINEER2_KEY"}
CONTROL = {"endpoint": "opc.tcp://127.0.0.1:1/none/", "timeout_s": 1, "commands": [
    {"name": "reduce_speed", "assets": ["*/cnc-*"], "kind": "write", "browse_name": "speed_override",
     "value": "double", "min": 50, "max": 100}]}


def twin_yaml(tmp_path: Path, keyed: bool) -> Path:
    path = tmp_path / "twin.yaml"
    path.write_text(f"plant: {PROJECT / 'configs' / 'demo-plant.yaml'}\ndatabase: {tmp_path / 'twin.db'}\n"
                    + ("audit_key_env: FT_TEST_AUDIT_KEY\n" if keyed else ""))
    return path


def verify(config: Path, database: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory_twin", "twin", "audit", "verify", str(config),
                           *(["--database", str(database)] if database else [])],
                          capture_output=True, text=True, timeout=60)


def fill_audit(tmp_path: Path, keyed: bool) -> None:
    """Three requests, one approved (it fails: no equipment answers), one rejected, one self-approval refused."""
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "broker": {"port": 1}, "control": CONTROL,
                                     "database": str(tmp_path / "twin.db"),
                                     "auth": {"api_keys": [*AUTH_CONFIG["api_keys"], SECOND]}}
                                    | ({"audit_key_env": "FT_TEST_AUDIT_KEY"} if keyed else {}))
    app = create_app(cfg, load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig))
    second = {"Authorization": "Bearer test-engineer2-key-0123456789"}
    with ServedApp(app) as s, httpx.Client(base_url=s.url, headers=auth(), timeout=30) as c:
        body = {"asset": CNC, "command": "reduce_speed", "value": 80, "reason": "noise"}
        ids = [c.post("/api/commands", json=body).json()["id"] for _ in range(3)]
        assert c.post(f"/api/commands/{ids[0]}/approve", json={"comment": "ok"}, headers=second).status_code == 200
        assert c.post(f"/api/commands/{ids[1]}/reject", json={"comment": "no"}, headers=second).status_code == 200
        assert c.post(f"/api/commands/{ids[2]}/approve", json={"comment": "me"}).status_code == 403


def test_a_rewritten_approver_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_ENGINEER2_KEY", "test-engineer2-key-0123456789")
    fill_audit(tmp_path, keyed=False)
    config = twin_yaml(tmp_path, keyed=False)
    ok = verify(config)
    assert ok.returncode == 0 and "intact: 7 entries" in ok.stdout, ok.stdout + ok.stderr
    db = tmp_path / "twin.db"
    pristine = tmp_path / "pristine.db"
    shutil.copy(db, pristine)

    conn = sqlite3.connect(db)
    row = conn.execute("SELECT seq, ts, who, action, command_id, asset, command, value, comment, result, hash "
                       "FROM audit_log WHERE action = 'approved'").fetchone()
    forged = (row[0], row[1], "test-admin", *row[3:])
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):  # the database refuses the rewrite
        conn.execute("INSERT OR REPLACE INTO audit_log (seq, ts, who, action, command_id, asset, command, value, "
                     "comment, result, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", forged)
    # someone with the file drops the triggers first: the chain still tells
    for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_rewrite"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("INSERT OR REPLACE INTO audit_log (seq, ts, who, action, command_id, asset, command, value, "
                 "comment, result, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", forged)
    conn.commit()
    conn.close()
    bad = verify(config)
    assert bad.returncode == 1 and f"entry {row[0]} was changed" in bad.stderr, bad.stdout + bad.stderr

    shutil.copy(pristine, db)  # the end of the log cut off
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
    conn.commit()
    conn.close()
    cut = verify(config)
    assert cut.returncode == 1 and "removed from the end" in cut.stderr, cut.stdout + cut.stderr


def test_a_keyed_chain_cannot_be_recomputed_without_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_ENGINEER2_KEY", "test-engineer2-key-0123456789")
    monkeypatch.setenv("FT_TEST_AUDIT_KEY", "an-audit-key-kept-apart-from-the-database")
    fill_audit(tmp_path, keyed=True)
    config = twin_yaml(tmp_path, keyed=True)
    assert verify(config).returncode == 0
    conn = sqlite3.connect(tmp_path / "twin.db")  # rewrite one entry and recompute every hash after it, keyless
    for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_rewrite"):
        conn.execute(f"DROP TRIGGER {trigger}")
    rows = conn.execute("SELECT seq, ts, who, action, command_id, asset, command, value, comment, result "
                        "FROM audit_log ORDER BY seq").fetchall()
    prev = ""
    for row in rows:
        row = (*row[:2], "test-admin" if row[3] == "approved" else row[2], *row[3:])
        prev = entry_hash(prev, row, None)
        conn.execute("UPDATE audit_log SET who = ?, hash = ? WHERE seq = ?", (row[2], prev, row[0]))
    conn.commit()
    conn.close()
    bad = verify(config)
    assert bad.returncode == 1 and "HMAC-SHA256" in bad.stderr, bad.stdout + bad.stderr
    monkeypatch.delenv("FT_TEST_AUDIT_KEY")
    assert verify(config).returncode == 2  # the key is needed to check a keyed chain, and says so


def test_databases_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    SqliteHistorian(tmp_path / "history.db").close()
    Quarantine(tmp_path / "quarantine.db").close()

    async def spool() -> None:
        Spool(tmp_path / "spool.db", ["history"]).close()

    asyncio.run(spool())
    cfg = TwinConfig.model_validate({"plant": "demo-plant.yaml", "database": str(tmp_path / "twin.db"),
                                     "auth": AUTH_CONFIG})
    services_of(create_app(cfg, load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig))).db.close()
    (tmp_path / "old.db").write_bytes(b"")
    (tmp_path / "old.db").chmod(0o644)
    Quarantine(tmp_path / "old.db").close()  # an existing file is made private too
    files = [p for p in tmp_path.iterdir() if p.name.endswith((".db", ".db-wal", ".db-shm"))]
    assert len(files) >= 5
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o077} == {}
