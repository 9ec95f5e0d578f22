"""`factory-twin bench historian`: a week of the demo line into the embedded store, and the UI's queries.

Insert rate counts only the time inside ``write`` (the history is generated in between, chunk by chunk).
Query latencies are warm: each query runs once, then the median of `repeats` runs is reported. The queries
go through the twin's reader (`twin.history.open_source`, and for a series `twin.history_work.series`, which
reads, shapes and serialises the API's answer). The same history is loaded into Debian's InfluxDB 1.6
(started here on loopback, in a temporary folder) and the same queries are timed on a twin reading it.
Like for like: InfluxDB computes windows from raw samples, so the embedded store's windows are also timed
off minute bounds (from raw samples) beside its one-minute rollups.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.influxd import influxd_executable, running_influxd
from benchmarks.line_history import LineHistory
from factory_twin.runtime import config_path
from historian import Historian, SqliteHistorian
from historian.config import InfluxSettings
from historian.influx import InfluxHistorian
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from twin.history import Source, open_source
from twin.history_work import series

ASSET = "acme/plant1/machining/line1/turning/cnc-1"
SIGNAL = "spindle_speed"


def _load(historian: Historian, history: LineHistory, limit: int | None,
          batch_size: int | None = None) -> tuple[int, float, int]:
    """(samples and events written, seconds inside write, records rejected); batches of an hour by default."""
    written = rejected = 0
    spent = 0.0
    for chunk in history.chunks():
        if limit is not None and written >= limit:
            break
        records = chunk if limit is None else chunk[:limit - written]
        step = batch_size or len(records)
        for i in range(0, len(records), step):
            t = time.perf_counter()
            report = historian.write(records[i:i + step])
            spent += time.perf_counter() - t
            written += report.stored
            rejected += len(report.rejected)
    return written, spent, rejected


def _warm_ms(query: Callable[[], object], repeats: int) -> float:
    query()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        query()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def _queries(h: Historian, source: Source, end: datetime) -> dict[str, Callable[[], object]]:
    """The UI's queries as the twin answers them: a series through the API's worker function (JSON bytes)."""
    day = end - timedelta(days=1)
    return {
        "one_signal_day_1min_windows": lambda: series(source, ASSET, SIGNAL, "rpm", day, end, 60, 10_000, "json"),
        "asset_all_signals_last_hour_raw": lambda: h.samples(ASSET, "*", end - timedelta(hours=1), end),
        "events_of_a_shift": lambda: h.events(start=end - timedelta(hours=8), end=end),
    }


def _rows(h: Historian, end: datetime) -> dict[str, int]:
    day = end - timedelta(days=1)
    return {"one_signal_day_1min_windows": len(h.windows(ASSET, SIGNAL, day, end, 60)),
            "asset_all_signals_last_hour_raw": len(h.samples(ASSET, "*", end - timedelta(hours=1), end)),
            "events_of_a_shift": len(h.events(start=end - timedelta(hours=8), end=end))}


def historian_bench(workdir: Path, days: float = 7.0, samples: int | None = None, repeats: int = 5,
                    with_influxdb: bool = True) -> dict[str, Any]:
    plant = load_config(config_path("demo-plant.yaml"), PlantConfig)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    history = LineHistory(plant, end, days * 86400)
    if samples is not None:  # a shorter history ending at the same instant, so the queries still find data
        history = LineHistory(plant, end, min(days * 86400, max(3600.0, samples / 21)))  # ~22 samples/s
    db = workdir / "history.db"
    store = SqliteHistorian(db)
    written, spent, rejected = _load(store, history, samples)
    store.close()
    store = SqliteHistorian(db)  # queries on a reopened file: nothing left over from the writes
    count = store.count_samples()
    size = db.stat().st_size + (db.with_name(db.name + "-wal").stat().st_size if db.with_name(
        db.name + "-wal").exists() else 0)
    store.close()
    source = ("sqlite", str(db))
    reader = open_source(source)
    queries_ms = {name: _warm_ms(q, repeats) for name, q in _queries(reader, source, end).items()}
    # the same window query off minute bounds is computed from the raw samples, not the rollups: like for like
    # with InfluxDB, which has no rollups of its own
    queries_ms["one_signal_day_1min_windows_from_raw"] = _warm_ms(
        lambda: series(source, ASSET, SIGNAL, "rpm", end - timedelta(days=1), end - timedelta(microseconds=1), 60,
                       10_000, "json"), repeats)
    rows = _rows(reader, end)
    reader.close()
    # the agent's default batch (500 records) on the first hours of the same history, into a file of its own
    agent_batches = SqliteHistorian(workdir / "agent-batches.db")
    small_written, small_spent, _ = _load(agent_batches, history, min(200_000, written), batch_size=500)
    agent_batches.close()
    result: dict[str, Any] = {
        "days": round(history.seconds / 86400, 3),
        "records_written": written, "samples_stored": count, "events_stored": written - count,
        "records_rejected": rejected,
        "insert_samples_per_s": round(count / spent),  # the events' share of the time counted too
        "insert_records_per_s_batches_of_500": round(small_written / small_spent),
        "file_mb": round(size / 1e6, 1),
        "file_mb_per_million_samples": round(size / 1e6 / (count / 1e6), 2),
        "queries_ms": queries_ms,
        "query_rows": rows,
        "cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if with_influxdb:
        result |= _influxdb(workdir, history, samples, end, repeats, queries_ms["one_signal_day_1min_windows_from_raw"])
    return result


def _influxdb(workdir: Path, history: LineHistory, samples: int | None, end: datetime, repeats: int,
              raw_ms: float) -> dict[str, Any]:
    if influxd_executable() is None:
        raise FileNotFoundError("influxd is not installed (Debian: apt-get install -y influxdb); or --no-influxdb")
    folder = workdir / "influxdb"
    folder.mkdir()
    with running_influxd(folder) as server:
        server.create_database("bench")
        influx = InfluxHistorian(server.url, "bench", write_api="v1", timeout_s=120)
        written, spent, _ = _load(influx, history, samples)
        influx.close()
        source = ("influxdb", InfluxSettings(url=server.url, database="bench", timeout_s=120), "")
        reader = open_source(source)
        queries_ms = {name: _warm_ms(q, repeats) for name, q in _queries(reader, source, end).items()}
        rows = _rows(reader, end)
        reader.close()
    window_ms = queries_ms["one_signal_day_1min_windows"]
    return {"influxdb_insert_records_per_s": round(written / spent), "influxdb_queries_ms": queries_ms,
            "influxdb_query_rows": rows, "influxdb_window_query_ratio_raw_vs_raw": round(window_ms / raw_ms, 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2)}
