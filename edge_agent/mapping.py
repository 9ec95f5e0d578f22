"""The mapping layer: how a PLC's raw value becomes a signal of the unified namespace.

Declared per OPC-UA tag, per MQTT field or per Sparkplug metric as ``map:``, so a line whose controllers
do not speak the namespace's vocabulary is onboarded by configuration, not code::

    map:
      preset: packml              # PackML state numbers and names -> producing, idle, starved, down, ...
      states: {"17": setup, Cleared: null}  # vendor codes or enum names -> states (overrides the preset);
                                  # null: this value says nothing (another tag feeding the signal will)
      bits: {0: down, 3: setup, 5: producing}   # a status word: the first listed bit that is set wins
      default: idle               # state when no bit is set (bits) or a code is not listed (states)
      field: 0.Count              # a member of a structure or an element of an array (dotted)
      scale: {raw: [0, 27648], eng: [0, 100]}   # or {factor: 0.1, offset: -40}
      unit: degF                  # the unit the source reports (default: what it says itself)
      to_unit: degC               # convert into this one (offsets included)
      counter: {rollover: 65535}  # a part counter that wraps after this value
      array: explode              # an array: signal.0, signal.1, ... (default) or json: one text value
      max_length: 256             # text longer than this is cut, and marked uncertain
      type: number                # a switch as 0/1, numeric text as a number; or text: any value as text

Every step is checked when the configuration loads (a state that is not a state of the twin, a unit pint
cannot read, a conversion between dimensions) and every value that cannot be mapped at run time is
refused alone, with the reason, while the source's other values flow.

Arrays are exploded by default: a 4-zone temperature becomes ``zone_temperature.0`` ... ``.3``, each a
series the historian, the UNS and the twin handle like any other (the catalogue declares such a signal
with ``array: 4``). ``array: json`` keeps the array whole as one text value, for data read as a whole
(a recipe, a tool list) rather than trended.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from plantmodel import units
from plantmodel.telemetry import AssetState, Quality, Value

#: the twin's operating states, as a map's targets
STATES = frozenset(s.value for s in AssetState)

#: PackML (ISA-TR88.00.02, OPC 30050) states by number and by name. Execute is production; Suspended is
#: an external stop (upstream or downstream), so waiting; Held and Aborted are the machine's own stops.
PACKML = {0: "Undefined", 1: "Clearing", 2: "Stopped", 3: "Starting", 4: "Idle", 5: "Suspended", 6: "Execute",
          7: "Stopping", 8: "Aborting", 9: "Aborted", 10: "Holding", 11: "Held", 12: "Unholding", 13: "Suspending",
          14: "Unsuspending", 15: "Resetting", 16: "Completing", 17: "Complete", 18: "Running", 19: "Cleared"}
_PACKML_STATES = {"Undefined": "unknown", "Clearing": "down", "Stopped": "idle", "Starting": "idle", "Idle": "idle",
                  "Suspended": "starved", "Execute": "producing", "Stopping": "idle", "Aborting": "down",
                  "Aborted": "down", "Holding": "down", "Held": "down", "Unholding": "down",
                  "Suspending": "starved", "Unsuspending": "starved", "Resetting": "idle", "Completing": "idle",
                  "Complete": "idle", "Running": "producing", "Cleared": "idle"}
#: OPC 40001-1 MachineryItemState: the StateNumber of each state of its state machine, by the nodeset
MACHINERY_ITEM_STATE = {0: "NotAvailable", 1: "OutOfService", 2: "NotExecuting", 3: "Executing"}
_MACHINERY_STATES = {"NotAvailable": "idle", "OutOfService": "down", "Executing": "producing",
                     "NotExecuting": "idle"}
#: OPC 40001-1 MachineryOperationMode, as text of the operation_mode signal
MACHINERY_OPERATION_MODE = {0: "None", 1: "Maintenance", 2: "Setup", 3: "Processing"}

PRESETS: dict[str, dict[str, str]] = {
    "packml": {**{str(n): _PACKML_STATES[name] for n, name in PACKML.items()}, **_PACKML_STATES},
    "machinery_item_state": {**{str(n): _MACHINERY_STATES[name] for n, name in MACHINERY_ITEM_STATE.items()},
                             **_MACHINERY_STATES},
    "machinery_operation_mode": {**{str(n): name.lower() for n, name in MACHINERY_OPERATION_MODE.items()},
                                 **{name: name.lower() for name in MACHINERY_OPERATION_MODE.values()}},
}
#: presets whose targets are states of the twin (the others map onto text)
STATE_PRESETS = frozenset({"packml", "machinery_item_state"})
MAX_ARRAY = 1024


class MappingError(ValueError):
    """A value this mapping cannot turn into a signal value; `reason` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail
        super().__init__(detail)


class Scale(BaseModel):
    """Linear scaling: ``factor``/``offset``, or two points ``raw: [lo, hi]`` -> ``eng: [lo, hi]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    factor: float | None = None
    offset: float = 0.0
    raw: tuple[float, float] | None = None
    eng: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if (self.raw is None) != (self.eng is None):
            raise ValueError("give both raw and eng, or factor and offset")
        if self.raw is not None and self.factor is not None:
            raise ValueError("give raw/eng or factor/offset, not both")
        if self.raw is not None and self.raw[0] == self.raw[1]:
            raise ValueError("raw: the two points must differ")
        if self.raw is None and self.factor is None:
            raise ValueError("give factor (and offset) or raw and eng")
        return self

    def linear(self) -> tuple[float, float]:
        if self.raw is not None and self.eng is not None:
            factor = (self.eng[1] - self.eng[0]) / (self.raw[1] - self.raw[0])
            return factor, self.eng[0] - factor * self.raw[0]
        return float(self.factor or 0.0), self.offset


class Counter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rollover: int | None = Field(None, ge=1, description="the counter's largest value before it wraps to 0")


class ValueMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    preset: Literal["packml", "machinery_item_state", "machinery_operation_mode"] | None = None
    states: dict[int | str, str | None] | None = Field(None, description="raw value (number or text) -> target; "
                                                                         "null: no value for this one")
    bits: dict[int, str] | None = Field(None, description="bit number -> state; the first listed set bit wins")
    default: str | None = Field(None, description="target for a value (or word) no entry matches")
    field: str | None = Field(None, min_length=1, description="dotted path into a structure or array")
    scale: Scale | None = None
    unit: str | None = Field(None, description="the unit the source reports, when it does not say")
    to_unit: str | None = Field(None, description="convert into this unit")
    counter: Counter | None = None
    array: Literal["explode", "json"] = "explode"
    max_length: int = Field(256, ge=1, le=65536, description="longest text kept")
    type: Literal["number", "text"] | None = Field(None, description="number: switches as 0/1, numeric text as "
                                                                     "numbers; text: any value as its text")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.bits is not None and (self.states is not None or self.preset is not None):
            raise ValueError("bits reads a status word: do not combine it with states or preset")
        if self.bits is not None and any(not 0 <= b < 64 for b in self.bits):
            raise ValueError("bits: bit numbers are 0 to 63")
        textual = self.states is not None or self.preset is not None or self.bits is not None
        if textual and (self.scale is not None or self.to_unit is not None or self.counter is not None):
            raise ValueError("a value mapped to a state or text has no scale, unit conversion or counter")
        if self.default is not None and not textual:
            raise ValueError("default is for states, preset or bits")
        if self.yields_state():
            targets = [*(self.states or {}).values(), *(self.bits or {}).values(),
                       *([self.default] if self.default else [])]
            bad = sorted({t for t in targets if t is not None and t not in STATES})
            if bad:
                raise ValueError(f"{', '.join(map(repr, bad))} is not a state of the twin; states are "
                                 f"{', '.join(sorted(STATES))}")
        for key in ("unit", "to_unit"):
            unit = getattr(self, key)
            if unit is not None and not units.is_known(unit):
                raise ValueError(f"{key}: unknown unit {unit!r}")
        if self.to_unit is not None and self.unit is not None and not units.convertible(self.unit, self.to_unit):
            raise ValueError(f"cannot convert {self.unit!r} to {self.to_unit!r}")
        return self

    def yields_state(self) -> bool:
        """Whether the mapped values are operating states (and must be states of the twin)."""
        if self.bits is not None or self.preset in STATE_PRESETS:
            return True
        return self.preset is None and self.states is not None and all(
            v in STATES for v in self.states.values() if v is not None)


@dataclasses.dataclass(frozen=True, slots=True)
class Mapped:
    """One value out of a mapping: `suffix` is "" or an array element's ``.<i>``."""

    suffix: str
    value: Value
    unit: str
    quality: Quality | None = None  # set when the mapping itself casts doubt (text cut short)


class Mapper:
    """A compiled `ValueMap`: the table lookups and the linear function, ready per value."""

    def __init__(self, m: ValueMap | None, source_unit: str = "") -> None:
        self.m = m or ValueMap()
        self.table: dict[str, str | None] | None = None
        if self.m.preset is not None or self.m.states is not None:
            own = {str(k): v for k, v in (self.m.states or {}).items()}
            table = self.table = {**PRESETS.get(self.m.preset or "", {}), **own}
            self._folded = {k.casefold(): v for k, v in table.items()}
        self.bits = list((self.m.bits or {}).items())
        self.factor, self.offset = self.m.scale.linear() if self.m.scale else (1.0, 0.0)
        unit = self.m.unit if self.m.unit is not None else source_unit
        self.unit = units.normalise(self.m.to_unit if self.m.to_unit is not None else unit)
        self.convert = units.converter(unit, self.m.to_unit) if self.m.to_unit is not None else None
        self.path = [int(p) if p.isdigit() else p for p in self.m.field.split(".")] if self.m.field else []
        self.textual = self.table is not None or bool(self.bits)

    def apply(self, raw: Any) -> list[Mapped]:
        """The signal values for one raw value (several for an exploded array)."""
        value = plain(raw)
        for step in self.path:
            value = _member(value, step)
        if isinstance(value, list):
            if len(value) > MAX_ARRAY:
                raise MappingError("array_too_long", f"an array of {len(value)} elements (at most {MAX_ARRAY})")
            if self.m.array == "json":
                text = orjson.dumps([self._one(v) for v in value]).decode()
                return [self._text("", text)]
            return [self._mapped(f".{i}", v) for i, raw_v in enumerate(value) if (v := self._one(raw_v)) is not None]
        one = self._one(value)
        return [] if one is None else [self._mapped("", one)]

    def _mapped(self, suffix: str, value: Value) -> Mapped:
        if isinstance(value, str):
            return self._text(suffix, value)
        return Mapped(suffix, value, "" if self.textual else self.unit)

    def _text(self, suffix: str, text: str) -> Mapped:
        if len(text) > self.m.max_length:
            return Mapped(suffix, text[: self.m.max_length - 1] + "…", "", Quality.UNCERTAIN)
        return Mapped(suffix, text, "")

    def _one(self, value: Any) -> Value | None:
        if isinstance(value, dict | list):
            raise MappingError("unsupported_type", f"a structure where a value was expected ({value!s:.60})")
        if self.table is not None:
            return self._lookup(value)
        if self.bits:
            return self._word(value)
        if self.m.type == "text":
            return str(value).lower() if isinstance(value, bool) else str(value)
        if self.m.type == "number" and isinstance(value, bool | str):
            value = _number(value)
        if isinstance(value, bool | str):
            return value
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                raise MappingError("not_finite", f"{value} is not a finite number")
            if self.factor != 1.0 or self.offset != 0.0:
                value = value * self.factor + self.offset
            if self.convert is not None:
                value = self.convert(float(value))
            return value
        raise MappingError("unsupported_type", f"cannot map a {type(value).__name__} value ({value!s:.60})")

    def _lookup(self, value: Any) -> str | None:
        assert self.table is not None
        key = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if key in self.table:
            return self.table[key]
        folded = key.casefold()
        if folded in self._folded:
            return self._folded[folded]
        if self.m.default is not None:
            return self.m.default
        raise MappingError("unmapped_value", f"{value!r} is not in the value map")

    def _word(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise MappingError("wrong_type", f"a status word must be an integer, got {value!r}")
        for bit, state in self.bits:
            if value >> bit & 1:
                return state
        if self.m.default is None:
            raise MappingError("unmapped_value", f"no listed bit is set in {value:#x}")
        return self.m.default


def plain(raw: Any) -> Any:
    """An OPC-UA or JSON value as plain Python: LocalizedText as its text, enums as numbers, structures as
    dicts, arrays as lists, timestamps as ISO 8601 text."""
    if raw is None or isinstance(raw, bool | int | float | str):
        return raw
    if isinstance(raw, enum.Enum):
        return raw.value
    if isinstance(raw, list | tuple):
        return [plain(v) for v in raw]
    if isinstance(raw, Mapping):
        return {str(k): plain(v) for k, v in raw.items()}
    if isinstance(raw, datetime):
        return raw.isoformat()
    text = getattr(raw, "Text", None)  # ua.LocalizedText
    if text is not None or type(raw).__name__ == "LocalizedText":
        return text or ""
    name = getattr(raw, "Name", None)  # ua.QualifiedName
    if type(raw).__name__ == "QualifiedName":
        return name or ""
    if dataclasses.is_dataclass(raw) and not isinstance(raw, type):  # asyncua structures are dataclasses
        return {f.name: plain(getattr(raw, f.name)) for f in dataclasses.fields(raw)}
    if isinstance(raw, bytes | bytearray):
        raise MappingError("unsupported_type", f"a byte string of {len(raw)} bytes")
    return str(raw)


def _number(value: bool | str) -> int | float:
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value) if value.strip().lstrip("+-").isdigit() else float(value)
    except ValueError:
        raise MappingError("wrong_type", f"expected a number, got {value!r:.60}") from None


def _member(value: Any, step: str | int) -> Any:
    if isinstance(step, int):
        if isinstance(value, list) and -len(value) <= step < len(value):
            return value[step]
        raise MappingError("missing", f"no element {step} in {value!s:.60}")
    if isinstance(value, dict) and step in value:
        return value[step]
    raise MappingError("missing", f"no field {step!r} in {value!s:.60}")
