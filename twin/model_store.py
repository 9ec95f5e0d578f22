"""Anomaly models on disk with their training metadata, via skops: loading never runs arbitrary code.

A pickle can execute anything when loaded; skops only rebuilds the types it is told to trust. We trust our own
detectors and the scikit-learn internals they hold, and refuse a file that needs anything else.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# skops, scipy and scikit-learn are imported where a model is saved or loaded: together they take seconds to
# import, and a twin starting up should show the live line first.

#: Types a model file may contain beyond skops' own defaults (numpy, builtins, common scikit-learn ones).
TRUSTED_PREFIXES = ("analytics.anomaly.",)
TRUSTED_TYPES = frozenset({"sklearn.tree._tree.Tree"})
FORMAT = 1


class UntrustedModel(ValueError):
    """The file asks for types we do not load; it names them."""


@dataclass(frozen=True)
class ModelMetadata:
    """What a model was trained on and with: enough to decide whether it still fits the asset."""

    asset: str
    signals: list[str]
    trained_rows: int
    trained_from: str  # ISO time of the first baseline row
    trained_to: str  # ISO time of the last baseline row
    detector: str = ""
    threshold: float = float("nan")
    params: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    stuck_limits: dict[str, int] = field(default_factory=dict)  # µs of production without a change: stuck
    spike_limits: dict[str, float] = field(default_factory=dict)  # robust z of a reading that is a spike
    thermal: dict[str, list[float]] = field(default_factory=dict)  # signal -> its thermal lag's parameters


def metadata_for(model: Any, asset: str, trained_rows: int, trained_from: str, trained_to: str) -> ModelMetadata:
    import scipy
    import sklearn
    import skops

    return ModelMetadata(
        asset=asset, signals=list(getattr(model, "signal_names_", [])), trained_rows=trained_rows,
        trained_from=trained_from, trained_to=trained_to, detector=type(model).__name__,
        threshold=float(getattr(model, "threshold_", float("nan"))),
        params={k: repr(v) for k, v in model.get_params(deep=False).items()} if hasattr(model, "get_params") else {},
        versions={"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
                  "scikit-learn": sklearn.__version__, "skops": skops.__version__})


def save_model(path: Path, model: Any, metadata: ModelMetadata) -> None:
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    sio.dump({"format": FORMAT, "model": model, "metadata": asdict(metadata)}, tmp)
    tmp.replace(path)  # a reader never sees half a file


def load_model(path: Path) -> tuple[Any, ModelMetadata]:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in TRUSTED_TYPES]
    if refused:
        raise UntrustedModel(f"{path}: refusing to load types {refused}")
    payload = sio.load(path, trusted=untrusted)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a factory-twin model file (format {FORMAT})")
    return payload["model"], ModelMetadata(**payload["metadata"])
