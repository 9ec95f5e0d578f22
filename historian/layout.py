"""The InfluxDB layout, defined once (docs/influxdb-layout.md explains it): one line of line protocol per record.

A sample is a point in the measurement named after its signal, tagged with its place in the plant and its
signal kind, with one field for its value (``value`` float for numbers, ``text`` string otherwise) and a
``quality`` string field. An event is a point in the ``events`` measurement with its kind as a tag and its
data as a JSON string field. Timestamps are nanoseconds; ours have microsecond resolution, so an event's
last three digits carry a hash of its data and two events of one kind at one microsecond do not collide.

>>> sample_line("acme/plant1/machining/line1/turning/cnc-1", "spindle_speed", "rpm", "analog", 8000.0,
...             "good", 1_764_000_000_000_000)
'spindle_speed,path=acme/plant1/machining/line1/turning/cnc-1,site=plant1,area=machining,line=line1,\
cell=turning,asset=cnc-1,kind=analog,unit=rpm value=8000.0,quality="good" 1764000000000000000'
"""

from __future__ import annotations

import functools
import zlib

EVENTS = "events"  # the measurement of events; no signal may take the name
TAG_KEYS = ("path", "site", "area", "line", "cell", "asset", "kind", "unit")


@functools.lru_cache(maxsize=65_536)  # names and tags repeat on every line: escape each once
def _escape_key(text: str) -> str:
    """Measurements, tag keys and tag values: commas, equals signs and spaces need a backslash."""
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _string_field(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@functools.lru_cache(maxsize=65_536)
def place_tags(asset: str) -> str:
    """path plus one tag per ISA-95 level below the enterprise (the path has six segments, checked before)."""
    _, site, area, line, cell, short = asset.split("/")
    return (f"path={_escape_key(asset)},site={_escape_key(site)},area={_escape_key(area)},"
            f"line={_escape_key(line)},cell={_escape_key(cell)},asset={_escape_key(short)}")


def sample_line(asset: str, signal: str, unit: str, kind: str, value: float | str, quality: str, ts_us: int) -> str:
    unit_tag = f",unit={_escape_key(unit)}" if unit else ""  # line protocol has no empty tag values
    field = f"value={value!r}" if isinstance(value, float) else f"text={_string_field(value)}"
    return (f"{_escape_key(signal)},{place_tags(asset)},kind={kind}{unit_tag} "
            f"{field},quality=\"{quality}\" {ts_us * 1000}")


def event_line(asset: str, kind: str, data_json: str, ts_us: int) -> str:
    return (f"{EVENTS},{place_tags(asset)},kind={_escape_key(kind)} data={_string_field(data_json)} "
            f"{ts_us * 1000 + zlib.crc32(data_json.encode()) % 1000}")
