"""The embedded store beyond the contract: rollups, retention, concurrent readers, a writer killed with SIGKILL."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import PROJECT, wait_until

from historian import RetentionRule, SqliteHistorian, Window
from plantmodel.telemetry import Quality, Sample

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
CNC = "acme/plant1/machining/line1/turning/cnc-1"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _expected_minutes(samples: list[Sample], minutes: int) -> list[tuple[int, float | None, float | None]]:
    """(count, mean, last) per minute from T0, the slow obvious way, last write of a timestamp winning."""
    by_ts = {s.ts: s for s in samples}
    out = []
    for m in range(minutes):
        inside = [by_ts[t] for t in sorted(by_ts) if at(60 * m) <= t < at(60 * (m + 1))
                  and by_ts[t].quality is not Quality.BAD]
        values = [float(s.value) for s in inside]
        out.append((len(values), sum(values) / len(values) if values else None, values[-1] if values else None))
    return out


def test_minute_windows_from_rollups_follow_late_and_replaced_samples(tmp_path: Path) -> None:
    h = SqliteHistorian(tmp_path / "h.db")
    samples = [Sample(CNC, "power", float(i % 11), "kW", at(i)) for i in range(0, 300, 3)]
    h.write(samples)
    late = [Sample(CNC, "power", 100.0, "kW", at(61.5)),  # into a minute already rolled up
            Sample(CNC, "power", 50.0, "kW", at(120), Quality.BAD),  # replaces a good sample with a bad one
            Sample(CNC, "power", 7.0, "kW", at(299.9))]
    h.write(late)
    samples += late

    def summary(ws: list[Window]) -> list[tuple[int, float | None, float | None]]:
        return [(w.count, None if w.mean is None else round(w.mean, 9), w.last) for w in ws]

    expected = [(n, None if mean is None else round(mean, 9), last) for n, mean, last in _expected_minutes(samples, 5)]
    assert summary(h.windows(CNC, "power", at(0), at(300), every_s=60)) == expected  # whole minutes: rollups
    shifted = h.windows(CNC, "power", at(0), at(299.999999), every_s=60)  # not on minute bounds: raw samples
    assert summary(shifted) == expected
    h.close()


def test_retention_drops_raw_then_rollups_per_measurement_and_refuses_expired_samples(tmp_path: Path) -> None:
    now = [(T0 - timedelta(days=3)).timestamp()]
    rules = [RetentionRule(signals="pow*", raw_days=1, rollup_days=2)]
    h = SqliteHistorian(tmp_path / "h.db", retention=rules, clock=lambda: now[0], max_future_s=10 * 86400)
    hours = [Sample(CNC, sig, 1.0, "", T0 - timedelta(hours=k)) for k in range(0, 72, 6) for sig in ("power", "load")]
    h.write(hours)
    assert h.count_samples() == len(hours)
    now[0] = (T0 + timedelta(hours=11)).timestamp()  # raw power kept from T0-13h, its rollups from T0-37h
    h.maintain()
    assert [s.ts for s in h.samples(CNC, "power")] == [T0 - timedelta(hours=k) for k in (12, 6, 0)]
    assert len(h.samples(CNC, "load")) == 12  # no rule for load: kept forever
    days = h.windows(CNC, "power", T0 - timedelta(hours=48), T0 + timedelta(minutes=1), every_s=3600)
    assert [w.start for w in days if not w.gap] == [T0 - timedelta(hours=k) for k in (36, 30, 24, 18, 12, 6, 0)]
    report = h.write([Sample(CNC, "power", 2.0, "", T0 - timedelta(hours=14)), Sample(CNC, "load", 2.0, "", T0)])
    assert [(r.reason, r.detail) for r in report.rejected] == [
        ("bad_timestamp", "older than the raw retention of power")]
    h.close()


def test_readers_see_whole_batches_while_one_writer_writes(tmp_path: Path) -> None:
    writer = SqliteHistorian(tmp_path / "h.db")
    reader = SqliteHistorian(tmp_path / "h.db", readonly=True)
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(reader.count_samples())

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for b in range(40):
            writer.write([Sample(CNC, "power", float(i), "kW", at(b * 500 + i)) for i in range(500)])
        wait_until(lambda: len(seen) > 5 and seen[-1] == 20_000, 10, "the reader to see the last batch")
    finally:
        done.set()
        thread.join()
    assert all(n % 500 == 0 for n in seen) and seen == sorted(seen)
    assert len(set(seen)) > 2  # it really read while the writer wrote
    reader.close()
    writer.close()


_WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from historian import SqliteHistorian
from plantmodel.telemetry import Sample
h = SqliteHistorian(sys.argv[1])
t0 = datetime(2020, 1, 1, tzinfo=UTC)
for b in range(1_000_000):
    h.write([Sample("acme/p/a/l/c/m-%d" % (i % 7), "power", float(b), "kW", t0 + timedelta(seconds=b * 1000 + i))
             for i in range(1000)])
    print(b + 1, flush=True)
"""


def test_a_writer_killed_mid_write_leaves_a_sound_file_with_every_committed_batch(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    errors = tmp_path / "writer.err"
    with errors.open("wb") as err, subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], cwd=PROJECT,
                                                    stdout=subprocess.PIPE, stderr=err, text=True) as child:
        committed = 0
        try:
            assert child.stdout is not None
            for line in child.stdout:  # the child never stops by itself: we stop it after 30 batches
                committed = int(line)
                if committed >= 30:
                    break
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
    assert child.returncode == -signal.SIGKILL, errors.read_text()
    with contextlib.closing(sqlite3.connect(db)) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    h = SqliteHistorian(db)
    count = h.count_samples()
    assert count >= committed * 1000 and count % 1000 == 0  # every reported batch, and no torn one
    batches = {s.value for s in h.samples(signal="power")}
    assert batches == {float(b) for b in range(count // 1000)}
    h.write([Sample("acme/p/a/l/c/m-0", "power", -1.0, "kW", datetime(2021, 1, 1, tzinfo=UTC))])  # still writable
    assert h.count_samples() == count + 1
    h.close()


def test_a_file_of_another_schema_is_named_not_overwritten(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(db)) as old:
        old.execute("CREATE TABLE samples (series INTEGER, ts INTEGER, value, quality TEXT)")
    with pytest.raises(RuntimeError, match=r"old\.db: history file of schema 0"):
        SqliteHistorian(db)


@pytest.mark.parametrize("module", ["historian.checks", "historian.layout", "historian.retention", "historian.influx"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
