"""SKAB (Skoltech Anomaly Benchmark) files: a water-pump test bed, 8 sensors at 1 Hz, labelled anomalies."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = PROJECT.parent / "shared" / "data" / "skab"
#: SKAB's protocol: the first 400 rows of every file are the (healthy) training part.
TRAIN_ROWS = 400
LABELS = ("anomaly", "changepoint")


@dataclass(frozen=True)
class SkabFile:
    name: str  # relative to the data folder, e.g. valve1/3.csv
    times: NDArray[np.float64]  # seconds since the epoch
    signals: dict[str, NDArray[np.float64]]
    anomaly: NDArray[np.int64]
    changepoint: NDArray[np.int64]

    def rows(self, part: slice) -> dict[str, NDArray[np.float64]]:
        return {k: v[part] for k, v in self.signals.items()}


def read_skab_csv(path: Path, name: str) -> SkabFile:
    """One `;`-separated SKAB file; errors name the file and line."""
    with path.open(newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        rows = list(reader)
    if not header or header[0] != "datetime" or not set(LABELS) <= set(header):
        raise ValueError(f"{path}: expected a SKAB header (datetime;...;anomaly;changepoint), got {header}")
    try:
        times = np.array([datetime.fromisoformat(r[0]).timestamp() for r in rows])
        values = np.array([[float(c) for c in r[1:]] for r in rows])
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    names = header[1:]
    columns = {n: values[:, j] for j, n in enumerate(names)}
    anomaly = columns.pop("anomaly").astype(np.int64)
    changepoint = columns.pop("changepoint").astype(np.int64)
    return SkabFile(name, times, columns, anomaly, changepoint)


def load_skab(root: Path) -> list[SkabFile]:
    """Every labelled file under `root` (anomaly-free/ has no labels and is skipped), in a stable order."""
    paths = sorted(p for p in root.rglob("*.csv") if "anomaly-free" not in p.parts)
    if not paths:
        raise FileNotFoundError(f"no SKAB .csv files under {root}")
    return [read_skab_csv(p, p.relative_to(root).as_posix()) for p in paths]
