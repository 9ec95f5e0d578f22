"""The NAB corpus: univariate series (timestamp,value CSV) and their label windows (combined_windows.json)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = PROJECT.parent / "shared" / "data" / "nab"


@dataclass(frozen=True)
class NabSeries:
    name: str  # e.g. realKnownCause/machine_temperature_system_failure.csv
    values: NDArray[np.float64]
    windows: list[tuple[int, int]]  # inclusive row ranges


def _timestamps(texts: list[str]) -> NDArray[np.datetime64]:
    return np.array([np.datetime64(t.strip().replace(" ", "T")) for t in texts], dtype="datetime64[us]")


def read_series(path: Path, name: str, labels: list[list[str]]) -> NabSeries:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    if header[:2] != ["timestamp", "value"]:
        raise ValueError(f"{path}: expected columns timestamp,value, got {header}")
    try:
        times = _timestamps([r[0] for r in rows])
        values = np.array([float(r[1]) for r in rows])
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    windows = []
    for start, end in labels:
        a = int(np.searchsorted(times, _timestamps([start])[0], side="left"))
        b = int(np.searchsorted(times, _timestamps([end])[0], side="right")) - 1
        windows.append((a, b))
    return NabSeries(name, values, windows)


def load_nab(root: Path) -> list[NabSeries]:
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    series = [read_series(root / "data" / name, name, windows) for name, windows in sorted(labels.items())]
    if not series:
        raise FileNotFoundError(f"no NAB series listed in {root / 'labels' / 'combined_windows.json'}")
    return series
