"""Export history from any backend: CSV for spreadsheets, Parquet (optional ``parquet`` extra) for analysis.

Both read through the Historian interface, so what is exported is exactly what a query returns.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import TextIO

from historian.base import Historian
from plantmodel.uns import format_ts

COLUMNS = ("asset", "signal", "ts", "value", "unit", "quality")


def to_csv(historian: Historian, out: TextIO | Path, asset: str = "*", signal: str = "*",
           start: datetime | None = None, end: datetime | None = None) -> int:
    """Raw samples as CSV (UTC ISO 8601 timestamps with microseconds); returns the number of rows."""
    if isinstance(out, Path):
        with out.open("w", newline="") as f:
            return to_csv(historian, f, asset, signal, start, end)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = historian.samples(asset, signal, start, end)
    writer.writerows((s.asset, s.signal, format_ts(s.ts), s.value, s.unit, str(s.quality)) for s in rows)
    return len(rows)


def to_parquet(historian: Historian, path: Path, asset: str = "*", signal: str = "*",
               start: datetime | None = None, end: datetime | None = None) -> int:
    """Raw samples as a Parquet file, numbers and text in separate typed columns; returns the row count."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError("Parquet export needs pyarrow: pip install 'factory-twin[parquet]'") from exc
    rows = historian.samples(asset, signal, start, end)
    table = pa.table({
        "asset": pa.array([s.asset for s in rows], pa.string()),
        "signal": pa.array([s.signal for s in rows], pa.string()),
        "ts": pa.array([s.ts for s in rows], pa.timestamp("us", tz="UTC")),
        "value": pa.array([None if isinstance(s.value, str) else s.value for s in rows], pa.float64()),
        "text": pa.array([s.value if isinstance(s.value, str) else None for s in rows], pa.string()),
        "unit": pa.array([s.unit for s in rows], pa.string()),
        "quality": pa.array([str(s.quality) for s in rows], pa.string()),
    })
    pq.write_table(table, path)
    return len(rows)
