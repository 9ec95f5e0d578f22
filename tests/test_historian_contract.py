"""One contract, every backend: the embedded store and InfluxDB (Debian's 1.6, InfluxQL reads, /write writes).

The InfluxDB backend's other write path, influxdb-client to /api/v2/write, is checked against
VictoriaMetrics in test_influx_write.py: the same line protocol goes through both.
"""

from __future__ import annotations

import io
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.influxd import Influxd
from historian import Historian, SqliteHistorian, Window
from historian.export import to_csv, to_parquet
from historian.influx import InfluxHistorian
from plantmodel.telemetry import Event, EventKind, Quality, Sample

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
LINE = "acme/plant1/machining/line1"
CNC, CNC2, ROBOT = f"{LINE}/turning/cnc-1", f"{LINE}/milling/cnc-2", f"{LINE}/assembly/robot-1"


@pytest.fixture(params=["sqlite", "influxdb"])
def historian(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Historian]:
    if request.param == "sqlite":
        h: Historian = SqliteHistorian(tmp_path / "h.db")
    else:
        server: Influxd = request.getfixturevalue("influxdb")
        database = f"t{uuid.uuid4().hex[:12]}"
        server.create_database(database)
        h = InfluxHistorian(server.url, database, write_api="v1")
    assert isinstance(h, Historian)
    yield h
    h.close()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _line_samples() -> list[Sample]:
    out = []
    for i in range(100):
        ts = at(i) + timedelta(microseconds=7)
        out.append(Sample(CNC, "spindle_speed", 8000.0 + i, "rpm", ts))
        out.append(Sample(ROBOT, "cycle_time", 30 + i, "s", ts, Quality.UNCERTAIN))
    out.append(Sample(CNC, "state", "producing", "", T0))
    return out


def test_round_trip_and_idempotent_writes(historian: Historian) -> None:
    samples = _line_samples()
    events = [Event(CNC, EventKind.STATE_CHANGE, T0, {"from": None, "to": "producing"})]
    assert historian.write([*samples, *events]).stored == len(samples) + 1
    historian.write([*samples, *events])  # a replay must not duplicate
    assert historian.count_samples() == len(samples)
    assert historian.events() == events
    assert historian.samples(CNC, "spindle_speed") == [s for s in samples if s.signal == "spindle_speed"]
    robot = historian.samples("*/robot-*")
    assert robot[0].quality is Quality.UNCERTAIN and robot[0].value == 30.0 and isinstance(robot[0].value, float)
    window = historian.samples(CNC, "spindle_speed", at(10), at(20))
    assert [s.value for s in window] == [8010.0 + i for i in range(10)]
    latest = {(s.asset, s.signal): (s.value, s.unit) for s in historian.latest()}
    assert latest == {(CNC, "spindle_speed"): (8099.0, "rpm"), (ROBOT, "cycle_time"): (129.0, "s"),
                      (CNC, "state"): ("producing", "")}
    # replay: the newest at or before an instant (a sample exactly at it counts)
    past = {(s.asset, s.signal): s.value for s in historian.latest(at=at(40) + timedelta(microseconds=7))}
    assert past == {(CNC, "spindle_speed"): 8040.0, (ROBOT, "cycle_time"): 70.0, (CNC, "state"): "producing"}
    assert historian.latest(at=T0 - timedelta(seconds=1)) == []


def test_wildcards_on_the_path_and_the_signal(historian: Historian) -> None:
    historian.write([Sample(CNC, "spindle_speed", 1.0, "rpm", T0), Sample(CNC2, "spindle_speed", 2.0, "rpm", T0),
                     Sample(CNC, "spindle_load", 3.0, "%", T0), Sample(ROBOT, "cycle_time", 4.0, "s", T0)])
    # ordered by asset path (assembly, milling, turning), then signal
    assert [s.value for s in historian.samples(f"{LINE}/*/cnc-?", "spindle_speed")] == [2.0, 1.0]
    assert [s.value for s in historian.samples(CNC, "spindle_*")] == [3.0, 1.0]
    assert [s.value for s in historian.samples("acme/*")] == [4.0, 2.0, 3.0, 1.0]
    assert historian.samples("acme/plant1/*/cnc-9") == []
    assert [s.asset for s in historian.latest("*/cnc-*", "spindle_speed")] == [CNC2, CNC]


def test_out_of_order_and_duplicate_timestamps(historian: Historian) -> None:
    historian.write([Sample(CNC, "power", float(i), "kW", at(i)) for i in (5, 1, 3)])
    historian.write([Sample(CNC, "power", 2.0, "kW", at(2)), Sample(CNC, "power", 10.0, "kW", at(1)),
                     Sample(CNC, "power", 11.0, "kW", at(1))])  # within a batch the later duplicate wins
    got = historian.samples(CNC, "power")
    assert [(s.ts, s.value) for s in got] == [(at(1), 11.0), (at(2), 2.0), (at(3), 3.0), (at(5), 5.0)]
    assert historian.latest(CNC, "power")[0].value == 5.0


def test_bad_values_are_refused_with_a_reason_and_the_rest_is_stored(historian: Historian) -> None:
    now = datetime.now(UTC)
    bad = [Sample(CNC, "power", math.nan, "kW", at(1)), Sample(CNC, "power", math.inf, "kW", at(2)),
           Sample(CNC, "power", -math.inf, "kW", at(3)), Sample(CNC, "power", "12.5", "kW", at(4)),
           Sample(CNC, "state", 3.0, "", at(5)), Sample("acme/cnc-1", "power", 1.0, "kW", at(6)),
           Sample(f"{LINE}/turning/cnc 1", "power", 1.0, "kW", at(6)), Sample(CNC, "po wer", 1.0, "kW", at(6)),
           Sample(CNC, "power", 1.0, "kW", now + timedelta(hours=2)),
           Sample(CNC, "power", 1.0, "kW", datetime(1999, 12, 31, tzinfo=UTC)),
           Event(CNC, EventKind.PART, now + timedelta(days=1), {"outcome": "good", "count": 1})]
    good = [Sample(CNC, "power", 7.5, "kW", at(7)), Sample(CNC, "state", "down", "", at(8)),
            Sample(f"{LINE}/turning/cnc-99", "power", 1.0, "kW", at(9)),  # unknown to the plant, well formed
            Sample(CNC, "power", 1.0, "kW", now - timedelta(minutes=1)),  # a clock that jumped back: stored
            Sample(CNC, "parts_good", True, "parts", at(10))]
    report = historian.write([*bad[:5], *good, *bad[5:]])
    assert report.stored == len(good)
    reasons = [(r.reason, r.field) for r in report.rejected]
    assert reasons == [("not_finite", "value")] * 3 + [("wrong_type", "value")] * 2 + [
        ("bad_asset", "asset"), ("bad_asset", "asset"), ("bad_signal", "signal"), ("bad_timestamp", "ts"),
        ("bad_timestamp", "ts"), ("bad_timestamp", "ts")]
    assert [r.record for r in report.rejected] == bad
    assert "ahead of the plant clock" in report.rejected[8].detail
    stored = historian.samples()
    assert sorted((s.asset, s.signal, s.value) for s in stored) == sorted(
        (s.asset, s.signal, 1.0 if s.value is True else s.value) for s in good)
    assert historian.count_samples() == len(good)


def test_windows_aggregate_and_mark_gaps(historian: Historian) -> None:
    # 0..29 s at 1 Hz, nothing in 30..59 s, then 60..69 s; one bad-quality outlier left out of the aggregates
    samples = [Sample(CNC, "spindle_load", float(i), "%", at(i)) for i in [*range(30), *range(60, 70)]]
    samples.append(Sample(CNC, "spindle_load", 1e6, "%", at(15.5), Quality.BAD))
    historian.write(samples)
    got = historian.windows(CNC, "spindle_load", at(0), at(80), every_s=10)
    assert [(w.start, w.count) for w in got] == [(at(10 * k), n) for k, n in enumerate([10, 10, 10, 0, 0, 0, 10, 0])]
    assert got[1] == Window(CNC, "spindle_load", at(10), 10, 14.5, 10.0, 19.0, 19.0)
    assert got[3].gap and got[3].mean is None and got[3].last is None and not got[0].gap
    # a window cut by the range counts only what is inside it, and starts on the epoch-aligned boundary
    cut = historian.windows(CNC, "spindle_load", at(5), at(25), every_s=10)
    assert [(w.start, w.count, w.min, w.max) for w in cut] == [(at(0), 5, 5.0, 9.0), (at(10), 10, 10.0, 19.0),
                                                                 (at(20), 5, 20.0, 24.0)]
    assert historian.windows(CNC, "spindle_load", at(1000), at(1100), every_s=10) == []


def test_windows_over_minutes_several_series_and_text(historian: Historian) -> None:
    historian.write([Sample(a, "power", float(i % 7), "kW", at(i)) for a in (CNC, CNC2) for i in range(0, 600, 5)])
    historian.write([Sample(CNC, "state", s, "", at(t)) for t, s in ((0, "idle"), (70, "producing"), (90, "down"))])
    power = historian.windows(f"{LINE}/*", "power", at(0), at(600), every_s=120)
    assert [(w.asset, w.start) for w in power] == [(a, at(120 * k)) for a in (CNC2, CNC) for k in range(5)]
    expected = [float(i % 7) for i in range(0, 120, 5)]
    assert power[0].count == 24 and power[0].mean == pytest.approx(sum(expected) / 24)
    assert (power[0].min, power[0].max, power[0].last) == (0.0, 6.0, expected[-1])
    state = historian.windows(CNC, "state", at(0), at(180), every_s=60)
    assert [(w.count, w.last, w.mean, w.min) for w in state] == [(1, "idle", None, None), (2, "down", None, None),
                                                                  (0, None, None, None)]


def test_events_by_kind_asset_and_time(historian: Historian) -> None:
    events = [Event(CNC, EventKind.STATE_CHANGE, at(0), {"from": None, "to": "producing"}),
              Event(CNC, EventKind.PART, at(40), {"outcome": "good", "count": 1}),
              Event(CNC, EventKind.PART, at(40), {"outcome": "scrap", "count": 1}),  # same instant, both kept
              Event(ROBOT, EventKind.PART, at(50), {"outcome": "good", "count": 2}),
              Event(ROBOT, EventKind.ALARM, at(60), {"code": "E-STOP", "text": 'door "B" open'})]
    historian.write(events)
    historian.write(events[1:2])
    assert historian.events() == events
    assert historian.events(kind=EventKind.PART) == events[1:4]
    assert historian.events("*/robot-1") == events[3:]
    assert historian.events(CNC, EventKind.PART, at(40), at(41)) == events[1:3]
    assert historian.events(start=at(45), end=at(60)) == events[3:4]


def test_export_to_csv_and_parquet(historian: Historian, tmp_path: Path) -> None:
    historian.write([Sample(CNC, "power", 1.5, "kW", at(0)), Sample(CNC, "state", "idle", "", at(1), Quality.BAD)])
    out = io.StringIO()
    assert to_csv(historian, out) == 2
    assert out.getvalue().splitlines() == [
        "asset,signal,ts,value,unit,quality",
        f"{CNC},power,2026-11-29T06:00:00.000000Z,1.5,kW,good",
        f"{CNC},state,2026-11-29T06:00:01.000000Z,idle,,bad"]
    pq = pytest.importorskip("pyarrow.parquet")
    assert to_parquet(historian, tmp_path / "h.parquet", signal="power") == 1
    table = pq.read_table(tmp_path / "h.parquet").to_pylist()
    assert table == [{"asset": CNC, "signal": "power", "ts": at(0), "value": 1.5, "text": None, "unit": "kW",
                      "quality": "good"}]
