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
_CODES_BY_TEXT = {str(k): v for k, v in CODES.items()}
#: a return to producing from one of these starts a start-up period (reduced-yield losses)
RESTARTS_FROM = frozenset({SETUP, FAILURE, MINOR_STOP, PLANNED_STOP, UNKNOWN})
#: a unit in one of these when a window begins may finish, in the window, a part it began before it
BEGUN_BEFORE = frozenset({PRODUCING, FAILURE})
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
        st_ts: list[int] = []
        st_code: list[int] = []
        st_reason: list[str | None] = []
        p_ts: list[int] = []
        p_out: list[int] = []
        p_n: list[int] = []
        state_kind, part_kind, codes, outcomes = EventKind.STATE_CHANGE, EventKind.PART, _CODES_BY_TEXT, OUTCOMES
        for e in events:
            data = e.data
            if e.kind is state_kind:
                st_ts.append(to_micros(e.ts))
                to = data.get("to")
                code = codes.get(to) if isinstance(to, str) else None
                st_code.append(code if code is not None else state_code(to))
                st_reason.append(data.get("reason"))
            elif e.kind is part_kind:
                o = data.get("outcome")
                outcome = outcomes.get(o) if isinstance(o, str) else None
                count = data.get("count", 1)
                if outcome is not None and type(count) is int and count > 0:
                    p_ts.append(to_micros(e.ts))
                    p_out.append(outcome)
                    p_n.append(count)
        s_ts = np.array(st_ts, dtype=np.int64)
        so = np.argsort(s_ts, kind="stable")  # simultaneous changes keep arrival order: the last one wins
        pt = np.array(p_ts, dtype=np.int64)
        po = np.argsort(pt, kind="stable")
        return cls(s_ts[so], np.array(st_code, dtype=np.int8)[so], tuple(st_reason[i] for i in so),
                   pt[po], np.array(p_out, dtype=np.int8)[po], np.array(p_n, dtype=np.int64)[po])

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
