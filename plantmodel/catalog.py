"""Asset types of a discrete-manufacturing line and the signals each one carries, with units.

Units are UNECE/CEFACT display names as OPC-UA EUInformation carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AssetType(StrEnum):
    CNC_MACHINE = "cnc_machine"
    INDUSTRIAL_ROBOT = "industrial_robot"
    CONVEYOR = "conveyor"
    BUFFER = "buffer"
    INSPECTION_STATION = "inspection_station"
    AGV = "agv"


class SignalKind(StrEnum):
    ANALOG = "analog"  # a measured quantity
    STATE = "state"  # an enumerated operating state (text)
    COUNTER = "counter"  # a monotonically increasing count
    TEXT = "text"  # any other text value


@dataclass(frozen=True, slots=True)
class SignalSpec:
    name: str
    unit: str
    kind: SignalKind = SignalKind.ANALOG
    description: str = ""


_PRODUCTION = (
    SignalSpec("state", "", SignalKind.STATE, "operating state"),
    SignalSpec("parts_good", "parts", SignalKind.COUNTER, "good parts since start"),
    SignalSpec("parts_scrap", "parts", SignalKind.COUNTER, "scrapped parts since start"),
    SignalSpec("parts_rework", "parts", SignalKind.COUNTER, "parts reworked since start"),
    SignalSpec("alarm_code", "", SignalKind.TEXT, "code of the active failure alarm, 'none' while there is none"),
)

SIGNALS: dict[AssetType, tuple[SignalSpec, ...]] = {
    AssetType.CNC_MACHINE: (
        *_PRODUCTION,
        SignalSpec("spindle_speed", "rpm", description="spindle speed"),
        SignalSpec("spindle_load", "%", description="spindle load relative to rated torque"),
        SignalSpec("spindle_temperature", "°C", description="spindle bearing temperature"),
        SignalSpec("vibration_rms", "mm/s", description="spindle housing vibration velocity, RMS"),
        SignalSpec("tool_wear", "%", description="consumed tool life"),
        SignalSpec("power", "kW", description="active power drawn"),
    ),
    AssetType.INDUSTRIAL_ROBOT: (
        *_PRODUCTION,
        SignalSpec("joint_torque_max", "N·m", description="largest joint torque in the last second"),
        SignalSpec("gripper_pressure", "bar", description="gripper supply pressure"),
        SignalSpec("cycle_time", "s", description="duration of the last completed cycle"),
    ),
    AssetType.CONVEYOR: (
        *_PRODUCTION,
        SignalSpec("motor_current", "A", description="drive motor current"),
        SignalSpec("belt_speed", "m/s", description="belt speed"),
    ),
    AssetType.BUFFER: (
        SignalSpec("level", "parts", description="parts held"),
        SignalSpec("capacity", "parts", description="parts it can hold"),
    ),
    AssetType.INSPECTION_STATION: (
        *_PRODUCTION,
        SignalSpec("measured_diameter", "mm", description="bore diameter of the last part measured"),
    ),
    AssetType.AGV: (
        SignalSpec("state", "", SignalKind.STATE, "operating state"),
        SignalSpec("parts_good", "parts", SignalKind.COUNTER, "parts delivered since start"),
        SignalSpec("battery", "%", description="battery state of charge"),
        SignalSpec("position", "m", description="distance along its route"),
        SignalSpec("mission", "", SignalKind.TEXT, "current mission"),
    ),
}


_BY_NAME: dict[tuple[AssetType, str], SignalSpec] = {(t, s.name): s for t, specs in SIGNALS.items() for s in specs}


def signal_spec(asset_type: AssetType, name: str) -> SignalSpec | None:
    """The spec of one signal of a type, or None if the type has no such signal (a dict lookup: hot path)."""
    return _BY_NAME.get((asset_type, name))
