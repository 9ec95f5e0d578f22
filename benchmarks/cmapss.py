"""NASA C-MAPSS turbofan files (train_FD00x.txt, test_FD00x.txt): one row per engine per operating cycle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = PROJECT.parent / "shared" / "data" / "cmapss"
COLUMNS = 26  # unit, cycle, three operational settings, 21 sensors
#: Sensors that move with wear in FD001 (the others are constant or noise), as the C-MAPSS literature uses them.
SENSORS = (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21)


def read_cmapss(path: Path) -> dict[int, NDArray[np.float64]]:
    """Each engine's rows (cycles × 26 columns) by unit number; errors name the file, line and what was wrong."""
    units: dict[int, list[list[float]]] = {}
    with path.open(encoding="ascii", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            fields = text.split()
            if not fields:
                continue
            if len(fields) != COLUMNS:
                raise ValueError(f"{path}:{number}: expected {COLUMNS} numbers, got {len(fields)}")
            try:
                row = [float(v) for v in fields]
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
            if not np.isfinite(row).all():
                raise ValueError(f"{path}:{number}: a value is not finite")
            unit, cycle = row[0], row[1]
            if unit != int(unit) or unit < 1:
                raise ValueError(f"{path}:{number}: unit must be a positive whole number, got {fields[0]}")
            rows = units.setdefault(int(unit), [])
            if cycle != len(rows) + 1:
                raise ValueError(f"{path}:{number}: unit {int(unit)} cycle {fields[1]} out of sequence "
                                 f"(expected {len(rows) + 1})")
            rows.append(row)
    if not units:
        raise ValueError(f"{path}: no rows")
    return {u: np.asarray(r) for u, r in sorted(units.items())}


def sensors(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """The wear-sensitive sensor columns of one engine's rows."""
    return rows[:, [4 + s for s in SENSORS]]
