"""Events derived from the sample stream: state changes and parts, as OEE needs them.

Machines publish their state and part counters as variables; the event is the change.
"""

from __future__ import annotations

from plantmodel.telemetry import PART_COUNTERS, STATE_SIGNAL, Event, EventKind, Sample


class EventDeriver:
    """A counter seen for the first time sets a baseline; a counter that drops (a reset) re-bases."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], object] = {}

    def observe(self, sample: Sample) -> Event | None:
        if sample.signal != STATE_SIGNAL and sample.signal not in PART_COUNTERS:
            return None
        key = (sample.asset, sample.signal)
        previous = self._last.get(key)
        self._last[key] = sample.value
        if sample.signal == STATE_SIGNAL:
            if previous == sample.value:
                return None
            return Event(sample.asset, EventKind.STATE_CHANGE, sample.ts, {"from": previous, "to": sample.value})
        if isinstance(previous, int) and isinstance(sample.value, int) and sample.value > previous:
            data = {"outcome": PART_COUNTERS[sample.signal], "count": sample.value - previous}
            return Event(sample.asset, EventKind.PART, sample.ts, data)
        return None
