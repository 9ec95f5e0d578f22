"""`factory-twin bench detectors` and `bench nab` run end to end and write the keys their issue names."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from support import SHARED

NAB = SHARED / "data" / "nab"
NAB_SUBSET = ("realKnownCause/machine_temperature_system_failure.csv", "artificialWithAnomaly/art_daily_jumpsup.csv",
              "artificialNoAnomaly/art_daily_small_noise.csv")


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory_twin", "bench", *args], capture_output=True, text=True,
                          timeout=180)


def test_bench_detectors_reports_rates_and_sizes(tmp_path: Path) -> None:
    out = tmp_path / "detectors.json"
    result = _bench("detectors", "--samples", "20000", "--block", "500", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = orjson.loads(out.read_bytes())
    assert {"ewma-residual", "robust-z", "rate-of-change", "stuck-value", "out-of-range"} <= set(report["streaming"])
    for entry in report["streaming"].values():
        assert entry["streaming_per_s"] > 0 and entry["batched_per_s"] > 0 and entry["model_bytes"] > 0
    assert {"mewma", "pca-t2q", "isolation-forest"} <= set(report["multivariate"])
    assert report["multivariate"]["mewma"]["streaming_per_s"] > 0


@pytest.mark.skipif(not (NAB / "labels").is_dir(), reason=f"NAB data not found at {NAB} (shared data is absent)")
def test_bench_nab_on_a_subset(tmp_path: Path) -> None:
    data = tmp_path / "nab"
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    for name in NAB_SUBSET:
        (data / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(NAB / "data" / name, data / "data" / name)
    (data / "labels").mkdir()
    (data / "labels" / "combined_windows.json").write_text(json.dumps({n: labels[n] for n in NAB_SUBSET}))
    out = tmp_path / "nab.json"
    result = _bench("nab", "--data", str(data), "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "Numenta HTM" in result.stdout
    report = orjson.loads(out.read_bytes())
    # NAB's results of record, not the README's older rounding
    assert report["published"]["Numenta HTM"] == {"standard": 70.10, "reward_low_FP_rate": 63.12,
                                                  "reward_low_FN_rate": 74.32}
    assert report["series"] == 3 and report["windows"] == 5
    for entry in report["detectors"].values():
        assert {"standard", "reward_low_FP_rate", "reward_low_FN_rate"} <= set(entry)
        assert all(0.0 <= entry[p] <= 100.0 for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"))
    assert report["detectors"][report["best"]]["standard"] > 0
