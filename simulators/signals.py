"""Physical signals of each asset type, driven by its operating state: the simulator's one signal model.

The live plant (`sim serve`, the demo), the labelled data sets (`sim signals`) and the benchmarks all read
these models through simulators.live_line. Each is a small state machine of its own: temperatures follow a
first-order lag towards the level the current state drives them to, wear comes from the flow model (a
bearing's operating-time clock, a tool's parts since its change), and every measured value carries sensor
noise and the resolution of its sensor, so a running machine's signals change on every sample, as real ones do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from plantmodel.catalog import AssetType
from plantmodel.plant import Asset
from plantmodel.telemetry import AssetState, Value


class SignalModel:
    """Signals with no physics of their own (buffers)."""

    #: the signals a sensor measures, with its noise (standard deviation) while the machine runs; the rest of a
    #: model's values are computed by its controller (counters, a tool's wear, a cycle time)
    NOISE: ClassVar[dict[str, float]] = {}

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def sensors(self) -> dict[str, float]:
        """Signal -> the noise of its sensor: where sensor faults can happen, and how big a drift is."""
        return dict(self.NOISE)

    def read(self, state: AssetState, dt: float) -> dict[str, Value]:
        """Values sampled now, `dt` simulated seconds after the previous reading."""
        return {}

    def on_part(self, cycle_time_s: float) -> dict[str, Value]:
        """Values that change once per finished part."""
        return {}

    def noisy(self, mean: float, sd: float, digits: int = 3) -> float:
        return round(float(mean + sd * self.rng.standard_normal()), digits)


class CncSignals(SignalModel):
    AMBIENT_C, RUNNING_C, TAU_S = 24.0, 46.0, 600.0
    RUNNING_VIBRATION = 1.8
    # a worn bearing (worn share b of its life) multiplies the vibration by 1 + 3 b² and heats the running spindle
    # by 12 b² °C
    BEARING_VIBRATION, BEARING_HEAT_C = 3.0, 12.0
    NOISE: ClassVar[dict[str, float]] = {"spindle_load": 1.5, "spindle_temperature": 0.05, "vibration_rms": 0.08,
                                         "power": 0.15}

    @classmethod
    def bearing_share_by_signal(cls) -> dict[str, float]:
        """Per signal, the worn share from which a running machine's bearing has moved it by one noise σ of its
        sensor (a new tool): from there the wear is in that signal's data."""
        vibration = cls.NOISE["vibration_rms"] / (cls.RUNNING_VIBRATION * cls.BEARING_VIBRATION)
        return {"vibration_rms": math.sqrt(vibration),
                "spindle_temperature": math.sqrt(cls.NOISE["spindle_temperature"] / cls.BEARING_HEAT_C)}

    def sensors(self) -> dict[str, float]:
        return {"spindle_speed": 0.002 * self.rated_rpm} | self.NOISE

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng)
        self.temperature = self.AMBIENT_C + 2.0
        self.tool_wear = 0.0
        self.rated_rpm = float(rng.choice([6000.0, 8000.0, 12000.0]))
        # Set by the line model when the machine models them: worn share of the spindle bearing's life
        # (0..1), and the tool's used share in percent. A machine whose tool life is not modelled reports no
        # tool wear (a wear that no tool change in the flow model would follow would be fiction).
        self.bearing: Callable[[], float] | None = None
        self.tool: Callable[[], float] | None = None

    def read(self, state: AssetState, dt: float) -> dict[str, Value]:
        running = state is AssetState.PRODUCING
        bearing = self.bearing() if self.bearing else 0.0
        if self.tool:
            self.tool_wear = self.tool()
        target = self.RUNNING_C + self.BEARING_HEAT_C * bearing**2 if running else self.AMBIENT_C
        self.temperature += (target - self.temperature) * (1 - math.exp(-dt / self.TAU_S))
        load = 45.0 + 0.25 * self.tool_wear if running else 1.5
        base = self.RUNNING_VIBRATION + 0.01 * self.tool_wear if running else 0.15
        vibration = base * (1 + self.BEARING_VIBRATION * bearing**2)
        noise = self.NOISE  # what `sensors` tells, and what the bearing's visible share is derived from
        values: dict[str, Value] = {
            "spindle_speed": self.noisy(self.rated_rpm, 0.002 * self.rated_rpm, 1) if running else 0.0,
            "spindle_load": self.noisy(load, noise["spindle_load"] if running else 0.3, 2),
            "spindle_temperature": self.noisy(self.temperature, noise["spindle_temperature"], 2),
            "vibration_rms": self.noisy(vibration, noise["vibration_rms"], 3),
            "power": self.noisy(9.0 + 0.04 * self.tool_wear if running else 1.8, noise["power"], 3),
        }
        return values | ({"tool_wear": round(self.tool_wear, 2)} if dt == 0 and self.tool else {})

    def on_part(self, cycle_time_s: float) -> dict[str, Value]:
        if not self.tool:
            return {}
        self.tool_wear = self.tool()
        return {"tool_wear": round(self.tool_wear, 2)}


class RobotSignals(SignalModel):
    NOISE: ClassVar[dict[str, float]] = {"joint_torque_max": 3.0, "gripper_pressure": 0.04}

    def read(self, state: AssetState, dt: float) -> dict[str, Value]:
        running = state is AssetState.PRODUCING
        values: dict[str, Value] = {
            "joint_torque_max": self.noisy(86.0 if running else 22.0, 3.0 if running else 0.5, 2),
            "gripper_pressure": self.noisy(6.0, 0.04, 3),
        }
        return values | ({"cycle_time": 0.0} if dt == 0 else {})

    def on_part(self, cycle_time_s: float) -> dict[str, Value]:
        return {"cycle_time": round(cycle_time_s, 3)}


class ConveyorSignals(SignalModel):
    NOISE: ClassVar[dict[str, float]] = {"motor_current": 0.06, "belt_speed": 0.004}

    def read(self, state: AssetState, dt: float) -> dict[str, Value]:
        running = state is AssetState.PRODUCING
        return {
            "motor_current": self.noisy(3.2 if running else 0.4, 0.06 if running else 0.01, 3),
            "belt_speed": self.noisy(0.5, 0.004, 3) if running else 0.0,
        }


class InspectionSignals(SignalModel):
    NOMINAL_MM, SD_MM = 42.0, 0.004
    NOISE: ClassVar[dict[str, float]] = {"measured_diameter": SD_MM}

    def read(self, state: AssetState, dt: float) -> dict[str, Value]:
        return {"measured_diameter": self.NOMINAL_MM} if dt == 0 else {}

    def on_part(self, cycle_time_s: float) -> dict[str, Value]:
        return {"measured_diameter": self.noisy(self.NOMINAL_MM, self.SD_MM, 4)}


_MODELS: dict[str, type[SignalModel]] = {
    AssetType.CNC_MACHINE: CncSignals,
    AssetType.INDUSTRIAL_ROBOT: RobotSignals,
    AssetType.CONVEYOR: ConveyorSignals,
    AssetType.INSPECTION_STATION: InspectionSignals,
}


def kind_of(asset: Asset) -> AssetType | None:
    """The shipped type an asset's type is or extends: what the simulator knows how to make signals for."""
    return next((AssetType(t) for t in asset.spec.lineage if t in AssetType.__members__.values()), None)


def signal_model_for(asset: Asset, rng: np.random.Generator) -> SignalModel:
    kind = kind_of(asset)
    return _MODELS.get(kind, SignalModel)(rng) if kind else SignalModel(rng)
