"""`factory-twin bench skab` on a few SKAB files: the protocol runs end to end and writes its keys."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from support import SHARED

from benchmarks.skab import read_skab_csv

SKAB = SHARED / "data" / "skab"
#: A regression guard, not a measurement (that is the bench over every file): three files MEWMA does well on.
SUBSET = ("valve1/1.csv", "valve1/3.csv", "other/3.csv")
needs_skab = pytest.mark.skipif(not (SKAB / "valve1").is_dir(),
                                reason=f"SKAB data not found at {SKAB} (shared reference data is not in a fresh clone)")


@needs_skab
def test_bench_skab_on_a_subset(tmp_path: Path) -> None:
    data = tmp_path / "skab"
    for name in SUBSET:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SKAB / name, data / name)
    out = tmp_path / "skab.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "skab", "--data", str(data),
                             "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Conv-AE" in result.stdout and "mewma" in result.stdout
    report = orjson.loads(out.read_bytes())
    assert report["files"] == 3
    for scores in report["detectors"].values():
        assert {"f1", "far", "mar", "nab", "per_file", "settings"} <= set(scores)
        assert set(scores["nab"]) == {"standard", "low_fp", "low_fn"}
        assert set(scores["per_file"]) == set(SUBSET)
    assert report["headline"] == "mewma-lofo" and report["detectors"]["mewma-lofo"]["online"]
    # three files of 34: no comparison with the published leaderboard is made
    assert report["full_benchmark"] is False and report["comparison_with_published"] is None
    assert "not comparable" in result.stdout
    assert report["mewma_alarm_causes"]["valve1"]  # each alarm names a signal
    headline = report["detectors"]["mewma-lofo"]
    assert headline["f1"] > 0.78 and headline["far"] < 13.55
    assert all("alpha=" in v["settings"] for v in headline["per_file"].values())


def test_bench_skab_without_data_says_where_it_looked(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "skab", "--data", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no SKAB data" in result.stderr


def test_malformed_skab_file_names_file_and_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("datetime;Pressure;anomaly;changepoint\n2020-03-09 10:14:33;oops;0;0\n")
    with pytest.raises(ValueError, match=r"bad\.csv.*oops"):
        read_skab_csv(bad, "bad.csv")


@needs_skab
def test_the_published_rows_are_compared_only_on_the_full_benchmark(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import bench_skab

    data = tmp_path / "skab"
    for name in SUBSET:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SKAB / name, data / name)
    monkeypatch.setattr(bench_skab, "FILES_IN_FULL_BENCHMARK", len(SUBSET))  # as if these were all the files
    report = bench_skab.run(data)
    assert report["full_benchmark"] and set(report["comparison_with_published"]) == set(bench_skab.PUBLISHED)
    assert "against the published rows" in bench_skab.table(report)
