"""`factory-twin bench cmapss` on a few C-MAPSS engines: the protocol runs end to end and writes its keys; the
conformal intervals and window features on hand-made data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from support import SHARED

from analytics.maintenance import ConformalRul, window_features
from benchmarks.cmapss import read_cmapss

CMAPSS = SHARED / "data" / "cmapss"
needs_cmapss = pytest.mark.skipif(
    not (CMAPSS / "train_FD001.txt").is_file(),
    reason=f"C-MAPSS data not found at {CMAPSS} (shared reference data is not in a fresh clone)")


def _subset(src: Path, dst: Path, units: int) -> None:
    """The first `units` engines of a C-MAPSS file."""
    with src.open() as f, dst.open("w") as out:
        out.writelines(line for line in f if int(line.split()[0]) <= units)


@needs_cmapss
def test_bench_cmapss_on_a_subset(tmp_path: Path) -> None:
    data = tmp_path / "cmapss"
    data.mkdir()
    _subset(CMAPSS / "train_FD001.txt", data / "train_FD001.txt", 24)
    _subset(CMAPSS / "test_FD001.txt", data / "test_FD001.txt", 8)
    out = tmp_path / "cmapss.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "cmapss", "--data", str(data),
                             "--folds", "3", "--inner-folds", "2", "--cuts", "4", "--max-iter", "20",
                             "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "RMSE" in result.stdout and "coverage" in result.stdout
    report = orjson.loads(out.read_bytes())
    assert {"cv_rmse", "cv_score", "cv_coverage", "train_s", "predict_ms_per_engine", "protocol"} <= set(report)
    assert report["protocol"]["cv_cuts"] == 24 * 4
    assert 0 < report["cv_rmse"] < 60 and report["cv_score"] > 0 and 0 <= report["cv_coverage"] <= 1
    predictions = report["predictions"]
    assert [p["unit"] for p in predictions] == list(range(1, 9))
    for p in predictions:
        assert set(p) == {"unit", "rul", "lo", "hi"}
        assert 0 <= p["lo"] <= p["rul"] <= p["hi"] and p["rul"] <= 125


def test_bench_cmapss_without_data_says_where_it_looked(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "cmapss", "--data",
                             str(tmp_path / "none")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no C-MAPSS data" in result.stderr and "none" in result.stderr


def test_malformed_cmapss_file_names_file_line_and_problem(tmp_path: Path) -> None:
    bad = tmp_path / "train_FD001.txt"
    row = " ".join(["1", "1"] + ["0.5"] * 24)
    bad.write_text(f"{row}\n{row.replace('1 1', '1 3', 1)}\n")
    with pytest.raises(ValueError, match=r"train_FD001\.txt:2: unit 1 cycle 3 out of sequence"):
        read_cmapss(bad)
    bad.write_text(row.replace("0.5", "x", 1) + "\n")
    with pytest.raises(ValueError, match=r"train_FD001\.txt:1: .*'x'"):
        read_cmapss(bad)


def test_conformal_intervals_cover_as_promised_where_errors_grow_and_skew() -> None:
    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 150, 6000)
    estimate = np.minimum(truth, 125) + rng.gamma(2.0, 1 + 0.1 * truth) - 2  # skewed, growing, capped
    cal = ConformalRul(level=0.9).fit(estimate[:3000], truth[:3000])
    low, high = cal.predict_interval(estimate[3000:])
    inside = (low <= truth[3000:]) & (truth[3000:] <= high)
    assert 0.88 <= inside.mean() <= 0.92
    near = estimate[3000:] < 30  # Mondrian: each range of estimates keeps its own coverage and width
    assert 0.85 <= inside[near].mean() <= 0.95
    assert np.mean((high - low)[near]) < np.mean((high - low)[~near])
    assert (low >= 0).all()
    with pytest.raises(ValueError, match="level"):
        ConformalRul(level=1.5).fit(estimate, truth)


def test_window_features_look_only_back() -> None:
    rng = np.random.default_rng(2)
    h = rng.normal(size=(60, 3))
    full = window_features(h)
    cut = window_features(h[:35])
    np.testing.assert_allclose(full[:35], cut)
    assert np.isfinite(full).all() and full.shape == (60, 16)
