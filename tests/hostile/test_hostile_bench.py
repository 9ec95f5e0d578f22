"""`factory-twin bench abuse` for a few seconds: it runs every part, reports every key, and loses or lets
through nothing (speed is the benchmark's to report, not this test's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

KEYS = {"p99_ms", "max_loop_stall_ms", "rss_peak_mb", "good_samples_lost", "forged_accepted"}


def test_abuse_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "abuse.json"
    run = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "abuse", "--seconds", "4", "--devices", "3",
                          "--junk-per-s", "20", "--history-days", "0.05", "--json", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = orjson.loads(out.read_bytes())
    assert KEYS <= set(result), result
    assert result["good_samples_sent"] > 0 and result["good_samples_lost"] == 0, result
    assert result["forged_attempts"] > 0 and result["forged_accepted"] == 0, result
    assert result["poison_sent"] > 0 and result["agent_rejected"].get("not_finite", 0) > 0
    assert "internal_error" not in result["agent_rejected"]
    assert result["big_bodies"]["sent"] > 0 and result["exit_codes"] == {"agent": 0, "twin": 0}
    assert result["live_state"]["answered_ok"] > 0
