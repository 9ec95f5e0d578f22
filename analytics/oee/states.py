"""How operating states and part events map onto the time model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from plantmodel.telemetry import AssetState, Event, EventKind, to_micros

PRODUCING, SETUP, FAILURE, MINOR_STOP, WAITING, PLANNED_STOP, UNKNOWN = range(7)
CODES = {
    AssetState.PRODUCING: PRODUCING,
    AssetState.SETUP: SETUP,
    AssetState.DOWN: FAILURE,  # split into FAILURE / MINOR_STOP by the stop's length
    AssetState.STARVED: WAITING,
    AssetState.BLOCKED: WAITING,
    AssetState.IDLE: WAITING,
    AssetState.PLANNED_STOP: PLANNED_STOP,
    AssetState.UNKNOWN: UNKNOWN,
}
#: a return to producing from one of these starts a start-up period (reduced-yield losses)
RESTARTS_FROM = frozenset({SETUP, FAILURE, MINOR_STOP, PLANNED_STOP, UNKNOWN})
GOOD, SCRAP, REWORK = range(3)
OUTCOMES = {"good": GOOD, "scrap": SCRAP, "rework": REWORK}


def state_code(state: object) -> int:
    """Unrecognised states count as unknown rather than being dropped: the time stays accounted."""
    try:
        return CODES[AssetState(str(state))]
    except ValueError:
        return UNKNOWN


@dataclass(frozen=True, slots=True)
class EventLog:
    """One asset's events as columns, in time order; equal timestamps keep their arrival order."""

    state_ts: np.ndarray  # int64 µs
    state: np.ndarray  # int8 codes (DOWN as FAILURE until classified)
    reason: tuple[str | None, ...]
    part_ts: np.ndarray
    part_outcome: np.ndarray
    part_count: np.ndarray

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> EventLog:
        st: list[tuple[int, int, str | None]] = []
        parts: list[tuple[int, int, int]] = []
        for e in events:
            if e.kind is EventKind.STATE_CHANGE:
                st.append((to_micros(e.ts), state_code(e.data.get("to")), e.data.get("reason")))
            elif e.kind is EventKind.PART:
                outcome = OUTCOMES.get(str(e.data.get("outcome")))
                count = e.data.get("count", 1)
                if outcome is not None and isinstance(count, int) and count > 0:
                    parts.append((to_micros(e.ts), outcome, count))
        st.sort(key=lambda r: r[0])  # stable: simultaneous changes keep arrival order, the last one wins
        parts.sort(key=lambda r: r[0])
        return cls(
            np.array([r[0] for r in st], dtype=np.int64), np.array([r[1] for r in st], dtype=np.int8),
            tuple(r[2] for r in st),
            np.array([r[0] for r in parts], dtype=np.int64), np.array([r[1] for r in parts], dtype=np.int8),
            np.array([r[2] for r in parts], dtype=np.int64),
        )

    def without_repeats(self) -> EventLog:
        """A repeated state is not a change: a stop reported twice is still one stop."""
        if not len(self.state):
            return self
        keep = np.concatenate([[self.state[0] != UNKNOWN], self.state[1:] != self.state[:-1]])
        return EventLog(self.state_ts[keep], self.state[keep], tuple(r for r, k in zip(self.reason, keep, strict=True)
                                                                     if k),
                        self.part_ts, self.part_outcome, self.part_count)

    @classmethod
    def from_arrays(cls, state_ts: np.ndarray, state: np.ndarray, part_ts: np.ndarray, part_outcome: np.ndarray,
                    part_count: np.ndarray | None = None) -> EventLog:
        o = np.argsort(state_ts, kind="stable")
        p = np.argsort(part_ts, kind="stable")
        counts = np.ones(len(part_ts), np.int64) if part_count is None else np.asarray(part_count)[p]
        return cls(np.asarray(state_ts, np.int64)[o], np.asarray(state, np.int8)[o], (None,) * len(o),
                   np.asarray(part_ts, np.int64)[p], np.asarray(part_outcome, np.int8)[p], counts)
