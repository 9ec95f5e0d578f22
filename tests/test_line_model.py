"""The simulated line: reproducible, parts conserved, states from the OEE vocabulary, clean timestamps."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from support import PROJECT

from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import AssetState
from simulators.live_line import LineModel

LINE = load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig).lines()[0]
HOURS = 4


@pytest.fixture(scope="module")
def run() -> tuple[LineModel, list]:
    model = LineModel(LINE)
    model.run_until(HOURS * 3600)
    return model, model.drain()


def _counts(model: LineModel) -> dict[str, tuple[int, int]]:
    return {path.rsplit("/", 1)[-1]: (m.parts_good, m.parts_scrap) for path, m in model.assets.items()}


def test_same_seed_same_run_other_seed_other_run(run: tuple[LineModel, list]) -> None:
    model, samples = run
    again = LineModel(LINE)
    again.run_until(HOURS * 3600)
    assert again.drain() == samples
    other = LineModel(LINE, seed=7)
    other.run_until(HOURS * 3600)
    assert _counts(other) != _counts(model)


def test_parts_are_conserved_along_the_flow(run: tuple[LineModel, list]) -> None:
    model, _ = run
    counts = _counts(model)
    stations = ["cnc-1", "cnc-2", "cnc-3", "cv-1", "robot-1", "inspect-1"]
    for up, down in itertools.pairwise(stations):
        good_up, (good_down, scrap_down) = counts[up][0], counts[down]
        in_between = sum(len(m.store.items) for p, m in model.assets.items() if hasattr(m, "store"))
        assert good_down + scrap_down <= good_up <= good_down + scrap_down + in_between + 2
    # The bottleneck (cnc-2, 42 s mean) bounds the output; failures take some of it away.
    assert 0.6 * HOURS * 3600 / 42 < counts["inspect-1"][0] < HOURS * 3600 / 42


def test_states_and_timestamps(run: tuple[LineModel, list]) -> None:
    _, samples = run
    allowed = {str(s) for s in AssetState}
    states = {s.value for s in samples if s.signal == "state"}
    assert states <= allowed
    assert {"producing", "starved", "blocked", "down"} <= states
    by_series = defaultdict(list)
    for s in samples:
        by_series[(s.asset, s.signal)].append(s.ts)
    for series, stamps in by_series.items():
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), series


def test_snapshot_has_every_signal_the_simulator_models() -> None:
    """Every signal of the snapshot is in the catalogue; state, counters and level are always there (the
    catalogue also lists signals real machines of a type may carry that the simulator does not model)."""
    model = LineModel(LINE)
    snapshot = {(s.asset, s.signal) for s in model.snapshot()}
    assert snapshot <= {(a.path, spec.name) for a in LINE.assets() for spec in a.signals}
    for a in LINE.assets():
        core = {a.spec.state, a.spec.level, *(n for n, o in a.spec.part_counters.items() if o in ("good", "scrap"))}
        assert {(a.path, n) for n in core if n and a.signal(n)} <= snapshot, a.path
        assert len({n for p, n in snapshot if p == a.path}) >= 2, a.path
