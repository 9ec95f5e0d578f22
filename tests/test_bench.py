"""`factory-twin bench` pipeline, oee, ingest and twin run to completion and report what their notes need; where
benchmarks/ is absent (as in the image), `factory-twin bench` says where benchmarks run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest


def test_pipeline_bench_writes_its_keys_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "pipeline", "--seconds", "2",
                             "--speed", "20", "--json", str(out)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "samples_per_s" in result.stdout
    data = orjson.loads(out.read_bytes())
    assert {"time_to_live_state_s", "samples_per_s", "produced", "stored", "missing", "extra", "rss_mb"} <= set(data)
    assert data["produced"] > 100 and data["missing"] == data["extra"] == 0 and data["stored"] == data["produced"]


def test_oee_bench_live_equals_batch(tmp_path: Path) -> None:
    out = tmp_path / "oee.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "oee", "--days", "2", "--json", str(out)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    data = orjson.loads(out.read_bytes())
    assert {"batch_s", "batch_from_event_objects_s", "live_us_per_event", "events", "windows"} <= set(data)
    assert data["live_equals_batch"] is True and data["shifts"] == 6 and data["events"] > 10_000


def test_ingest_bench_counts_what_reached_the_tsdb_as_sets(tmp_path: Path) -> None:
    for args, keys in ((["--source", "mqtt", "--seconds", "2", "--rate", "200"], {"cpu_us_per_msg"}),
                       (["--source", "mqtt", "--seconds", "2", "--rate", "1000", "--fields", "1", "--topics", "1000"],
                        {"cpu_us_per_msg"}),
                       (["--source", "mqtt", "--seconds", "2", "--rate", "300", "--fields", "1", "--topics", "100",
                         "--protocol", "3.1.1"], set()),
                       (["--source", "opcua", "--seconds", "2", "--variables", "50"], {"server_alone", "ratio"})):
        out = tmp_path / "ingest.json"
        result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "ingest", *args, "--json", str(out)],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        data = orjson.loads(out.read_bytes())
        assert {"samples_per_s", "missing", "extra", "duplicates", "rss_mb", "produced", "stored", "cpu_s",
                "provenance"} | keys <= set(data)
        assert data["produced"] > 0 and data["stored"] == data["produced"], data
        assert data["missing"] == data["extra"] == data["duplicates"] == 0, data
        assert {"commit", "versions", "load_before", "load_after", "cores"} <= set(data["provenance"])
        assert "mqtt5" in data["provenance"]["versions"]


def test_twin_bench_loads_the_api_and_fans_out(tmp_path: Path) -> None:
    out = tmp_path / "twin.json"
    result = subprocess.run([sys.executable, "-m", "factory_twin", "bench", "twin", "--seconds", "2", "--rate", "100",
                             "--ws-clients", "3", "--ws-seconds", "2", "--json", str(out)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    data = orjson.loads(out.read_bytes())
    assert {"requests_per_s", "p99_ms", "ws_clients", "ws_latency_p99_ms", "http", "websocket"} <= set(data)
    assert data["http"]["errors"] == 0 and data["http"]["answered_ok"] == 200
    assert data["websocket"]["clients_failed"] == 0 and data["websocket"]["values_delivered"] > 0


WITHOUT_BENCHMARKS = """
import sys


class Absent:  # as in the image, where benchmarks/ is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "benchmarks":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, Absent())
from factory_twin.cli import app

app(sys.argv[1:], prog_name="factory-twin")
"""


@pytest.mark.parametrize("args", [["bench", "oee"], ["bench", "--help"]])
def test_bench_without_benchmarks_says_where_they_run(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", WITHOUT_BENCHMARKS, *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert "benchmarks run from a source checkout" in result.stderr and len(result.stderr.splitlines()) == 1
