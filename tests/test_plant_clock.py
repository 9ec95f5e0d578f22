"""One time base: the plant clock (docs/time.md). Plant time follows the wall clock at the configured speed from
the configured origin; no timestamp a source sends can move it, and one far ahead of it is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_twin_oee import CNC, plant

from plantmodel.clock import ClockConfig, ManualClock, PlantClock
from plantmodel.telemetry import Sample, to_micros
from twin.db import TwinDatabase
from twin.persist import StateStore
from twin.state import PlantTwin, Rejected, SignalState

ORIGIN = datetime(2026, 12, 5, 6, tzinfo=UTC)


def test_plant_time_runs_at_the_speed_from_the_origin_and_is_wall_time_at_speed_one() -> None:
    wall = [to_micros(ORIGIN + timedelta(seconds=90))]
    fast = PlantClock(speed=10, origin_us=to_micros(ORIGIN), wall_us=lambda: wall[0])
    assert fast.now() == ORIGIN + timedelta(seconds=900) and fast.wall_seconds(600) == 60
    assert fast.wall_us_of(to_micros(ORIGIN + timedelta(seconds=900))) == wall[0]
    real = PlantClock(wall_us=lambda: wall[0])
    assert real.now_us() == wall[0]
    cfg = ClockConfig.model_validate({"speed": "10", "origin": ""})  # as ${FT_PLANT_ORIGIN:-} leaves it
    assert cfg.origin is None and cfg.speed == 10
    with pytest.raises(ValueError):
        ClockConfig.model_validate({"speed": 0})


def test_a_forged_future_timestamp_is_refused_and_does_not_move_the_clock(tmp_path: Path) -> None:
    clock = ManualClock(ORIGIN)
    twin = PlantTwin(plant(), clock=clock, max_future_s=300)
    twin.apply(Sample(CNC, "spindle_temperature", 46.0, "°C", ORIGIN + timedelta(seconds=60)))  # clock skew: fine
    with pytest.raises(Rejected) as refused:
        twin.apply(Sample(CNC, "spindle_temperature", 96.0, "°C", datetime(2099, 1, 1, tzinfo=UTC)))
    assert refused.value.reason == "bad_timestamp" and "ahead of the plant clock" in refused.value.detail
    assert twin.assets[CNC].signals["spindle_temperature"].value == 46.0 and clock.now() == ORIGIN
    twin.apply(Sample(CNC, "spindle_temperature", 47.0, "°C", ORIGIN + timedelta(seconds=61)))  # real values go on
    assert twin.assets[CNC].signals["spindle_temperature"].value == 47.0

    # a value saved ahead of the clock (a faster run of a simulator, a forgery) is left out after a restart
    db = TwinDatabase(tmp_path / "twin.db")
    store = StateStore(db, twin)
    ahead = Sample(CNC, "spindle_load", 50.0, "%", ORIGIN + timedelta(hours=10))
    twin.assets[CNC].signals["spindle_load"] = SignalState(ahead.value, ahead.unit, ahead.ts, ahead.quality)
    for name in ("spindle_temperature", "spindle_load"):
        store.observe(Sample(CNC, name, 0.0, "", ORIGIN))  # marks the signal to be saved
    store.flush()
    fresh = PlantTwin(plant(), clock=clock)
    assert StateStore(db, fresh, clock=clock, max_future_s=300).load() == 1
    assert set(fresh.assets[CNC].signals) == {"spindle_temperature"}
    db.close()
