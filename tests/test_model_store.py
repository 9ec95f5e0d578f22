"""Models round-trip through skops with their metadata; a file asking for an untrusted type is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from analytics.anomaly import IsolationForestDetector, Mewma, PcaMonitor, PotThreshold, QuantileThreshold
from twin.model_store import UntrustedModel, load_model, metadata_for, save_model

BASELINE = {"flow": np.linspace(30, 31, 300) + np.sin(np.arange(300)), "temp": 60 + np.cos(np.arange(300) / 7),
            "vibration": 0.5 + 0.01 * np.sin(np.arange(300) * 1.3)}


@pytest.mark.parametrize("model", [Mewma(rate_signals=("temp",), threshold=QuantileThreshold(1.0, 2.0)),
                                   PcaMonitor(threshold=PotThreshold(risk=1e-3)),
                                   IsolationForestDetector(n_estimators=20, random_state=1)], ids=type)
def test_round_trip_keeps_scores_and_metadata(tmp_path: Path, model: object) -> None:
    model.fit(BASELINE)  # type: ignore[attr-defined]
    meta = metadata_for(model, "acme/plant1/line1/cnc-1", 300, "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z")
    path = tmp_path / "models" / "cnc-1.skops"
    save_model(path, model, meta)
    loaded, loaded_meta = load_model(path)
    np.testing.assert_array_equal(loaded.score_samples(BASELINE), model.score_samples(BASELINE))  # type: ignore[attr-defined]
    assert loaded_meta == meta
    assert loaded_meta.signals == ["flow", "temp", "vibration"] and loaded_meta.versions["scikit-learn"]


def test_untrusted_types_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.skops"
    sio.dump({"format": 1, "model": Path("/"), "metadata": {}}, path)  # any type outside the allow-list
    with pytest.raises(UntrustedModel, match="pathlib"):
        load_model(path)
