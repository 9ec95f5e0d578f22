"""The historian interface every backend implements (the embedded SQLite store and InfluxDB).

What every backend guarantees (tests/test_historian_contract.py runs the same suite against each):

- A sample is keyed by (asset, signal, timestamp): writing the same key again replaces the value, so a
  replayed batch does not duplicate and, within a batch, the later of two duplicates wins.
- Out-of-order samples are stored by their source timestamp; queries always come back in time order.
- Numbers are kept as floats (booleans as 0.0/1.0); states and other text as text. A series' type follows
  its signal's kind in the catalogue (or the first value seen for an unknown signal).
- Rejected, never stored, and reported back with a reason and the field: NaN and infinities
  (``not_finite``), text in a numeric signal or a number in a text one (``wrong_type``), an asset path that
  is not six ISA-95 segments (``bad_asset``) or a malformed signal name (``bad_signal``), and timestamps
  before 2000 or further ahead of the historian's clock than it allows (``bad_timestamp``: a source whose
  clock jumped forward). A well-formed asset the plant model does not know is stored: membership is
  checked upstream by the agent and the twin, which hold the plant model.
- Asset and signal arguments accept ``*`` and ``?`` wildcards (``acme/plant1/*/cnc-*``); ``*`` also
  matches across ``/``. Time ranges are half-open: ``start <= ts < end``.
- Windows are aligned to the epoch (as InfluxQL's ``GROUP BY time``), cover ``[start, end)`` and leave
  out samples of bad quality; a window with nothing in it is a gap (``count == 0``, values ``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from plantmodel.telemetry import Event, EventKind, Record, Sample, Value
from plantmodel.validation import Rejection as Rejection  # one home: a refused record, for every receiver


@dataclass(frozen=True, slots=True)
class WriteReport:
    stored: int  # samples and events written
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Window:
    """Aggregates of one signal over ``[start, start + every)``; text signals have only count and last."""

    asset: str
    signal: str
    start: datetime
    count: int
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    last: Value | None = None

    @property
    def gap(self) -> bool:
        return self.count == 0


@runtime_checkable
class Historian(Protocol):
    def write(self, records: Sequence[Record]) -> WriteReport: ...

    def samples(self, asset: str = "*", signal: str = "*", start: datetime | None = None,
                end: datetime | None = None) -> list[Sample]:
        """Raw samples ordered by asset, signal and time."""
        ...

    def windows(self, asset: str, signal: str, start: datetime, end: datetime, every_s: int) -> list[Window]:
        """Every window of each matching series that has data in the range, gaps included, in time order."""
        ...

    def latest(self, asset: str = "*", signal: str = "*", at: datetime | None = None) -> list[Sample]:
        """The newest sample of each matching series, or the newest at or before `at` (replay of a past instant)."""
        ...

    def events(self, asset: str = "*", kind: EventKind | None = None, start: datetime | None = None,
               end: datetime | None = None) -> list[Event]: ...

    def count_samples(self) -> int: ...

    def close(self) -> None: ...
