"""Engineering units: one spelling per unit in the unified namespace, and conversions between units.

PLCs, gateways and OPC-UA EUInformation spell the same unit many ways (``degC``, ``°C``, ``celsius``;
``Nm``, ``N·m``; ``pcs``, ``parts``). Every unit that enters the system is normalised here with pint, so
the historian, the UNS and the twin see one spelling: pint's abbreviated symbol (``°C``, ``mm/s``, ``kW``),
with a few plant-floor spellings preferred (``N·m``, ``parts``). A text pint cannot read is kept as given
(trimmed) and reported by `is_known`, so `factory-twin plant check` can name it.

>>> normalise("degC"), normalise("celsius"), normalise("°C")
('°C', '°C', '°C')
>>> normalise("Nm"), normalise("pcs"), normalise("percent")
('N·m', 'parts', '%')
>>> round(converter("degF", "°C")(212.0), 6)
100.0
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

#: Spellings already canonical (the shipped catalogue's units): returned without parsing, so a process that
#: only meets these never loads pint's registry (it costs most of a second at start-up).
CANONICAL = frozenset({"", "°C", "%", "rpm", "mm/s", "kW", "N·m", "bar", "s", "A", "m/s", "mm", "m", "parts",
                       "µm", "kN", "1/min", "l/min", "V", "Hz", "kWh", "min", "h", "ms", "mA", "kg", "g"})
#: Plant-floor spellings pint reads differently or not at all (``Nm`` would be a nanometre... of nothing).
_ALIASES = {"Nm": "N*m", "N.m": "N*m", "N·m": "N*m", "Nxm": "N*m", "deg_C": "degC", "degc": "degC", "C°": "degC",
            "℃": "degC", "deg_F": "degF", "℉": "degF", "pcs": "parts", "Stk": "parts", "pieces": "parts",
            "piece": "parts", "part": "parts", "RPM": "rpm", "U/min": "rpm", "r/min": "rpm", "min-1": "1/min",
            "min^-1": "1/min", "sec": "s", "secs": "s", "Sec": "s", "pct": "%", "PCT": "%"}
#: pint's symbol -> the spelling the namespace uses
_PREFERRED = {"m·N": "N·m", "kN·m": "kN·m", "part": "parts"}


class UnitError(ValueError):
    """Two units that cannot be converted into each other (different dimensions), or an unreadable unit."""


@cache
def _registry() -> Any:
    import pint  # imported on first use: most processes only ever meet canonical spellings

    ureg: Any = pint.UnitRegistry(cache_folder=None, autoconvert_offset_to_baseunit=True)
    ureg.define("parts = [part] = part = pcs = piece")
    return ureg


def _parse(text: str) -> Any:
    """pint's Unit for a spelling; raises UnitError when pint cannot read it."""
    text = _ALIASES.get(text, text).replace("·", "*").replace("²", "**2").replace("³", "**3")
    ureg = _registry()
    try:
        return ureg.Unit(text)
    except Exception as exc:  # pint raises several error types (UndefinedUnitError, syntax errors, ...)
        raise UnitError(f"unknown unit {text!r}") from exc


@cache
def normalise(unit: str) -> str:
    """The namespace's spelling of a unit; an unknown one comes back trimmed, unchanged otherwise."""
    unit = unit.strip()
    if unit in CANONICAL:
        return unit
    try:
        parsed = _parse(unit)
    except UnitError:
        return unit
    symbol = f"{parsed:~P}"
    return _PREFERRED.get(symbol, symbol)


@cache
def is_known(unit: str) -> bool:
    """Whether pint can read the unit (empty means dimensionless and is known)."""
    unit = unit.strip()
    if unit in CANONICAL:
        return True
    try:
        _parse(unit)
    except UnitError:
        return False
    return True


@cache
def converter(source: str, target: str) -> Callable[[float], float]:
    """A function converting values from `source` to `target` (affine: offsets like °F to °C included)."""
    a, b = normalise(source), normalise(target)
    if a == b:
        return _identity
    src, dst = _parse(a or "dimensionless"), _parse(b or "dimensionless")
    ureg = _registry()
    try:
        zero = float(ureg.Quantity(0.0, src).to(dst).magnitude)
        big = float(ureg.Quantity(1e6, src).to(dst).magnitude)
    except Exception as exc:  # pint's DimensionalityError and offset-unit errors
        raise UnitError(f"cannot convert {a!r} to {b!r}: {exc}") from None
    factor = (big - zero) / 1e6
    def convert(v: float) -> float:
        # 12 significant digits, beyond any sensor's resolution: 212 °F is 100 °C, not 99.9999..., and a
        # result that is only the rounding left over from cancelling terms (32 °F) is 0
        scaled = v * factor
        r = scaled + zero
        return 0.0 if abs(r) <= 1e-12 * max(abs(scaled), abs(zero)) else float(f"{r:.12g}")

    return convert


def convertible(source: str, target: str) -> bool:
    try:
        converter(source, target)
    except UnitError:
        return False
    return True


def _identity(v: float) -> float:
    return v
