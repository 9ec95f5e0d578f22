"""The embedded historian: round trip, idempotent writes, wildcards, latest values, survival across reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from historian import SqliteHistorian
from plantmodel.telemetry import Event, EventKind, Quality, Sample

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
CNC = "acme/plant1/machining/line1/turning/cnc-1"
ROBOT = "acme/plant1/machining/line1/assembly/robot-1"


def _samples() -> list[Sample]:
    out = []
    for i in range(100):
        ts = T0 + timedelta(seconds=i, microseconds=7)
        out.append(Sample(CNC, "spindle_speed", 8000.0 + i, "rpm", ts))
        out.append(Sample(ROBOT, "cycle_time", 30 + i, "s", ts, Quality.UNCERTAIN))
    out.append(Sample(CNC, "state", "producing", "", T0))
    return out


def test_round_trip_and_idempotent_writes(tmp_path: Path) -> None:
    h = SqliteHistorian(tmp_path / "h.db")
    samples = _samples()
    events = [Event(CNC, EventKind.STATE_CHANGE, T0, {"from": None, "to": "producing"})]
    h.write([*samples, *events])
    h.write([*samples, *events])  # a replay must not duplicate
    assert h.count_samples() == len(samples)
    assert len(h.events()) == 1
    got = h.samples(CNC, "spindle_speed")
    assert got == [s for s in samples if s.signal == "spindle_speed"]
    assert h.samples("*/robot-*")[0].quality is Quality.UNCERTAIN
    window = h.samples(CNC, "spindle_speed", T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    assert [s.value for s in window] == [8010.0 + i for i in range(10)]
    latest = {(s.asset, s.signal): s.value for s in h.latest()}
    assert latest == {(CNC, "spindle_speed"): 8099.0, (ROBOT, "cycle_time"): 129, (CNC, "state"): "producing"}
    h.close()


def test_data_survives_reopen_and_readers_see_the_writer(tmp_path: Path) -> None:
    writer = SqliteHistorian(tmp_path / "h.db")
    reader = SqliteHistorian(tmp_path / "h.db", readonly=True)
    writer.write(_samples()[:10])
    assert reader.count_samples() == 10
    writer.close()
    reopened = SqliteHistorian(tmp_path / "h.db")
    reopened.write(_samples()[10:20])
    assert reader.count_samples() == 20
    assert reopened.events(kind=EventKind.PART) == []
    reader.close()
    reopened.close()
