"""The twin's live state: only known assets and signals, the newest value wins, buffers get a state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import PROJECT

from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Sample
from twin.state import PlantTwin, Rejected

PLANT = load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig)
CNC = "acme/plant1/machining/line1/turning/cnc-1"
BUF = "acme/plant1/machining/line1/turning/buf-1"
T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def test_every_asset_is_listed_before_any_data() -> None:
    assets = PlantTwin(PLANT).snapshot()
    assert len(assets) == 11
    assert {a["state"] for a in assets} == {"unknown"}


def test_newest_value_wins_and_state_since_follows_changes() -> None:
    twin = PlantTwin(PLANT)
    twin.apply(Sample(CNC, "state", "starved", "", T0))
    twin.apply(Sample(CNC, "state", "producing", "", T0 + timedelta(seconds=5)))
    twin.apply(Sample(CNC, "state", "down", "", T0 + timedelta(seconds=1)))  # late: ignored
    twin.apply(Sample(CNC, "parts_good", 12, "parts", T0))
    view = twin.assets[CNC].as_dict()
    assert view["state"] == "producing" and view["state_since"] == T0 + timedelta(seconds=5)
    assert view["parts"] == {"good": 12, "scrap": None}


def test_buffer_state_from_level() -> None:
    twin = PlantTwin(PLANT)
    twin.apply(Sample(BUF, "capacity", 8, "parts", T0))
    for level, state in ((0, "empty"), (3, "holding"), (8, "full")):
        twin.apply(Sample(BUF, "level", level, "parts", T0 + timedelta(seconds=level + 1)))
        assert twin.assets[BUF].state == state


@pytest.mark.parametrize(("sample", "reason"), [
    (Sample("acme/plant1/x/y/z/cnc-9", "state", "down", "", T0), "unknown_asset"),
    (Sample(CNC, "torque", 1.0, "", T0), "unknown_signal"),
    (Sample(CNC, "spindle_speed", "fast", "rpm", T0), "wrong_type"),
    (Sample(CNC, "state", 3.0, "", T0), "wrong_type"),
    (Sample(CNC, "spindle_speed", True, "rpm", T0), "wrong_type"),
])
def test_rejections(sample: Sample, reason: str) -> None:
    with pytest.raises(Rejected) as err:
        PlantTwin(PLANT).apply(sample)
    assert err.value.reason == reason
