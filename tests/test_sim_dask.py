"""Planning replications on a local Dask cluster give exactly what the process pool gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import PROJECT

from factory_twin.sim_cli import pick_line
from simulators.flow.replications import replicate

pytest.importorskip("distributed", reason="the dask extra is not installed (pip install '.[dask]')")


def test_replications_on_a_local_dask_cluster_equal_the_process_pool() -> None:
    from planning.dask_cluster import dask_executor

    line = pick_line(PROJECT / "configs" / "demo-plant.yaml", None)
    with dask_executor("local", 2) as (executor, workers):
        assert workers == 2
        on_dask = replicate(line, 1.0, 6, 7, workers=workers, executor=executor)
    assert on_dask == replicate(line, 1.0, 6, 7, workers=1)


def test_sim_run_with_dask_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "factory_twin", "sim", "run", "--hours", "1", "--replications", "4",
                           "--workers", "2", "--dask", "local", "--json", str(out)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["replications"] == 4
