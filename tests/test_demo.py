"""`factory-twin demo`: one command, live twin, values moving, clean Ctrl-C.

The deadlines are generous (a fresh clone on a busy machine starts slowly): how fast the twin is live is
measured by `factory-twin bench pipeline` (time to live state), not asserted here.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from support import auth, free_port, port_open, wait_until

LIVE_WITHIN_S = 120.0


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def test_demo_runs_the_live_twin_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "factory_twin", "demo", "--port", str(port), "--speed", "5",
                             "--data-dir", str(tmp_path / "data")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        def live() -> list[dict[str, Any]] | None:
            assets = httpx.get(f"http://127.0.0.1:{port}/api/assets", timeout=2, headers=auth("viewer")).json()
            ok = all(a["state"] != "unknown" and a["signals"] for a in assets)
            return assets if ok else None

        assets = wait_until(live, LIVE_WITHIN_S - (time.monotonic() - started), "every asset's live state")
        assert len(assets) == 11
        assert {"cnc_machine", "industrial_robot", "conveyor", "buffer", "inspection_station", "agv"} == {
            a["type"] for a in assets}
        for a in assets:
            assert a["id"].startswith("acme/plant1/machining/line1/")
            assert set(a) >= {"id", "type", "state", "parts", "signals"}
            for sig in a["signals"].values():
                assert set(sig) >= {"value", "unit", "ts", "quality", "age_s"}

        def values(snapshot: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
            return {(a["id"], n): (s["value"], s["ts"]) for a in snapshot for n, s in a["signals"].items()}

        first = values(assets)
        def changed() -> list[tuple[str, str]] | None:
            moved = [k for k, v in values(live() or assets).items() if first.get(k) != v]
            return moved if len(moved) >= 5 else None

        wait_until(changed, 60, "at least 5 signal values to change as the line runs")
        assert _children(proc.pid) == [], "the demo runs every part in its own process"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert f"http://127.0.0.1:{port}/api/assets" in out
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", out)]
    assert len(ports) >= 3
    assert not any(port_open(p) for p in ports), "something still listens after the demo exited"


def test_a_history_file_of_an_older_version_is_set_aside(tmp_path: Path) -> None:
    import sqlite3

    from factory_twin.demo import _set_aside_old_history

    old = tmp_path / "history.db"
    db = sqlite3.connect(old)
    db.execute("CREATE TABLE samples (series INTEGER, ts INTEGER, value REAL)")
    db.commit()
    db.close()
    _set_aside_old_history(old)
    assert not old.exists() and (tmp_path / "history.db.schema0").exists()
    _set_aside_old_history(old)  # nothing there: nothing to do
