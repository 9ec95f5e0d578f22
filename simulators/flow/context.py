"""What a station may use of the line it works in: the clock, the calendar, the crew, the part ledger and the
recorder. Stations and vehicle fleets see this, not the line (`simulators.flow.line.FlowLine` provides it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import simpy

    from plantmodel.simulation import Product
    from plantmodel.telemetry import AssetState
    from simulators.flow.parts import Ledger, Part
    from simulators.flow.shifts import Calendar
    from simulators.flow.station import Station


class StationContext(Protocol):
    env: simpy.Environment
    products: list[Product]  # the mix; a station with per-product times reads them from its part
    calendar: Calendar  # when the line is open (shifts, breaks, planned stops)
    operators: simpy.Resource  # the shared crew for setups and repairs
    ledger: Ledger  # where every part is, for WIP and lead time
    watching: bool  # whether anything records events (one flag on the hot path)

    def record_state(self, station: Station, k: int, old: AssetState, new: AssetState,
                     reason: str | None) -> None: ...

    def record_alarm(self, station: Station, code: str, active: bool) -> None: ...

    def part_event(self, station: Station, outcome: str, count: int) -> None: ...

    def new_part(self, product: str | None = None) -> Part: ...

    def finish(self, part: Part) -> None: ...
