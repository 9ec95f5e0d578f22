"""ISA-95 asset paths: what a path segment may be, and how a browse name becomes one.

An asset is addressed by six segments, ``enterprise/site/area/line/cell/asset``; the same path is the MQTT
topic prefix and the historian's key, so a segment may hold no ``/``, no MQTT wildcard and no space. The
plant model's own ids are stricter (lower case, digits, ``_`` and ``-``): `sanitise` turns any browse name
into such an id and says whether it had to change it, so a draft can warn per change.

>>> sanitise("Motor Speed")
('motor-speed', True)
>>> sanitise("cnc-1")
('cnc-1', False)
>>> sanitise("Spindle/Temp (°C)")
('spindle-temp-c', True)
>>> is_asset_path("acme/plant1/machining/line1/turning/cnc-1"), is_asset_path("Line1/Machine0")
(True, False)
"""

from __future__ import annotations

import re
import unicodedata

DEPTH = 6  # enterprise / site / area / line / cell / asset
LEVELS = ("enterprise", "site", "area", "line", "cell", "asset")
SEP = "/"
#: a segment of a path the historian and the UNS accept
SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
ASSET_PATH = re.compile(rf"^{SEGMENT}(/{SEGMENT}){{{DEPTH - 1}}}$")
#: an id of the plant model (and what `sanitise` produces)
IDENT = r"^[a-z0-9][a-z0-9_-]*$"
IDENT_MAX = 64
_IDENT = re.compile(IDENT)
_NOT_IDENT = re.compile(r"[^a-z0-9_-]+")


def is_asset_path(path: object) -> bool:
    return isinstance(path, str) and ASSET_PATH.match(path) is not None


def is_ident(text: str) -> bool:
    return len(text) <= IDENT_MAX and _IDENT.match(text) is not None


def sanitise(name: str, fallback: str = "x") -> tuple[str, bool]:
    """A plant-model id made from a browse name, and whether it differs from the name.

    Accents are dropped (``Prüfstand`` -> ``prufstand``), camel case is kept as one word, and every run of
    other characters (spaces, ``/``, ``#``, ``+``, brackets, units) becomes one ``-``.
    """
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    clean = _NOT_IDENT.sub("-", ascii_text.lower()).strip("-_")[:IDENT_MAX].rstrip("-_")
    if not clean:
        clean = fallback
    return clean, clean != name


def unique(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3`, ... when two browse names sanitise to the same id."""
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"
