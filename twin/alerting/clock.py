"""Where the alert lifecycle gets `now`: the plant clock in service, a hand-moved clock in tests and replays.

Escalation, shelving and flood windows are measured on the plant clock (plantmodel.clock), which is wall time
for a real plant and a simulator's time when it runs faster; rule delays (on-delay, off-delay) run on the
source time of the data itself.
"""

from __future__ import annotations

from plantmodel.clock import Clock, ManualClock, PlantClock

SystemClock = PlantClock  # the wall clock: plant time of a real plant

__all__ = ["Clock", "ManualClock", "PlantClock", "SystemClock"]
