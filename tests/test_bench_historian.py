"""`factory-twin bench historian` on a small history: it runs, stores everything and writes its keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson


def test_historian_bench_writes_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "historian", "--samples", "30000",
                             "--repeats", "1", "--json", str(out)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "insert_samples_per_s" in result.stdout
    data = orjson.loads(out.read_bytes())
    assert data["records_written"] == 30000 and data["records_rejected"] == 0
    assert data["samples_stored"] + data["events_stored"] == 30000
    assert set(data["queries_ms"]) >= {"one_signal_day_1min_windows", "asset_all_signals_last_hour_raw",
                                       "events_of_a_shift"}
    assert all(rows > 0 for rows in data["query_rows"].values())
    assert data["insert_samples_per_s"] > 0 and data["influxdb_window_query_ratio_raw_vs_raw"] > 0
    assert data["influxdb_query_rows"] == data["query_rows"]  # the same answers from either store
