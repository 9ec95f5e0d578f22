"""`factory-twin bench scale` runs two lines through two partitioned twins and reports what its note needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson


def test_scale_bench_measures_two_lines_through_two_twins(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "scale", "--lines", "2", "--seconds", "2",
                             "--warmup", "0", "--speed", "10", "--json", str(out)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "p99 ms" in result.stdout
    run = orjson.loads(out.read_bytes())["runs"][0]
    assert run["lines"] == 2 and run["twins"] == 2 and run["agents"] == 2 and run["machines"] == 22
    assert run["agent_samples_per_s"] > 0 and run["twin_samples_per_s"] > 0 and run["latency_samples"] > 0
    assert 0 < run["latency_p50_ms"] <= run["latency_p99_ms"] < 30_000
    assert set(run["by_role"]) == {"simulator", "agent", "twin", "broker"}
    assert run["published_by_agents"] > 0
    against = run["historians_vs_record"]  # what the simulators put on the wire, as sets, in the historians
    assert against["produced"] > 0 and against["missing"] == 0 and against["extra"] == 0, against
    assert run["twin_final_state"]["signals"] > 0 and run["twin_final_state"]["not_the_last_recorded"] == 0
    assert run["by_role"]["agent"]["processes"] == 2 and run["by_role"]["twin"]["rss_mb_per_process"] > 10
