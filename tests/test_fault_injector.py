"""The simulator's injected faults change the readings as their labels say (the ground truth of the alarm bench)."""

from __future__ import annotations

import numpy as np

from simulators.flow.sensors import FaultInjector, FaultLabel

BELT = "acme/plant1/machining/line1/transfer/cv-1"


def test_a_stuck_sensor_freezes_even_after_an_earlier_stuck_fault_on_the_same_signal() -> None:
    labels = [FaultLabel(BELT, "belt_speed", "stuck_sensor", 100.0, 200.0, 1.0),
              FaultLabel(BELT, "belt_speed", "stuck_sensor", 500.0, 900.0, 1.0)]
    faults = FaultInjector(labels, np.random.default_rng(1))
    first = [faults.apply(BELT, t, {"belt_speed": 0.5 + t / 1000})["belt_speed"] for t in (100.0, 150.0, 199.0)]
    assert first == [0.6, 0.6, 0.6]
    assert faults.apply(BELT, 300.0, {"belt_speed": 0.8})["belt_speed"] == 0.8  # healthy between the faults
    second = [faults.apply(BELT, t, {"belt_speed": 0.5 + t / 1000})["belt_speed"] for t in (500.0, 700.0, 899.0)]
    assert second == [1.0, 1.0, 1.0]  # frozen at its own first reading, though the first fault has ended
    assert faults.apply(BELT, 901.0, {"belt_speed": 0.3})["belt_speed"] == 0.3
