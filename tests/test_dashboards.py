"""The Grafana dashboards and provisioning files: structure, and every query against what the agent writes.

Grafana itself does not run here (the thin boundary): its JSON and YAML are checked statically, and every
InfluxQL query (panels, variables, annotations) is checked twice: it names only measurements, fields, tags
and tag values that the historian's layout writes (derived from `historian.layout` and the signal
catalogue, not copied), and it runs, with Grafana's macros filled in, on a real InfluxDB 1.x holding a
line's history written through the historian, returning data.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import PROJECT

from benchmarks.influxd import Influxd
from benchmarks.line_history import LineHistory
from historian.influx import InfluxHistorian
from historian.layout import EVENTS, event_line, sample_line
from plantmodel.catalog import SignalKind, builtin
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.telemetry import Event, EventKind, Quality, Record, Sample

DASHBOARDS = PROJECT / "dashboards"
BOARDS = sorted((DASHBOARDS / "json").glob("*.json"))
DATASOURCE_UID = "factory-influx"  # the InfluxDB data source; other dashboards (system health) read Prometheus


def provisioned() -> dict[str, dict[str, Any]]:
    """Every provisioned data source by uid."""
    out = {}
    for f in (DASHBOARDS / "provisioning" / "datasources").glob("*.yaml"):
        out |= {d["uid"]: d for d in yaml.safe_load(f.read_text())["datasources"]}
    return out


def influx_boards() -> list[Path]:
    return [p for p in BOARDS if any(t.get("datasource", {}).get("uid") == DATASOURCE_UID
                                     for pn in load(p)["panels"] for t in pn.get("targets", []))]
GRAFANA_MACROS = {"timeFilter", "__interval", "__interval_ms", "__from", "__to", "col", "tag_asset", "measurement"}


# -- what the historian writes, derived from its own code ------------------------------------------------

def _keys_of(line: str) -> tuple[str, set[str], set[str]]:
    """Measurement, tag keys and field keys of one line of line protocol (our lines: no escaped spaces)."""
    series, fields, _ = re.split(r"(?<!\\) ", line, maxsplit=2)
    measurement, *tags = re.split(r"(?<!\\),", series)
    field_keys = {m.group(1) for m in re.finditer(r'(\w+)=(?:"(?:[^"\\]|\\.)*"|[^,]*)', fields)}
    return measurement, {t.split("=", 1)[0] for t in tags}, field_keys


def written_layout() -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """Per measurement: its tag keys and its field keys; and the values known for enumerated keys."""
    asset = "e/site/area/line/cell/asset"
    _, num_tags, num_fields = _keys_of(sample_line(asset, "x", "u", "analog", 1.0, "good", 1))
    _, text_tags, text_fields = _keys_of(sample_line(asset, "x", "", "state", "producing", "good", 1))
    _, event_tags, event_fields = _keys_of(event_line(asset, "alarm", "{}", 1))
    tags: dict[str, set[str]] = {}
    fields: dict[str, set[str]] = {}
    for spec in itertools.chain.from_iterable(t.signals.values() for t in builtin().types.values()):
        textual = spec.kind in (SignalKind.STATE, SignalKind.TEXT)
        tags[spec.name] = text_tags if textual else num_tags
        fields[spec.name] = text_fields if textual else num_fields
    tags[EVENTS], fields[EVENTS] = event_tags, event_fields
    values = {"kind": {str(k) for k in SignalKind} | {str(k) for k in EventKind},
              "quality": {str(q) for q in Quality}}
    return tags, fields, values


def test_the_derived_layout_is_the_documented_one() -> None:
    tags, fields, values = written_layout()
    assert tags["spindle_speed"] == {"path", "site", "area", "line", "cell", "asset", "kind", "unit"}
    assert fields["spindle_speed"] == {"value", "quality"} and fields["state"] == {"text", "quality"}
    assert fields[EVENTS] == {"data"} and "alarm" in values["kind"]


# -- InfluxQL, as far as the dashboards use it -------------------------------------------------------------

TOKEN = re.compile(r"""
  (?P<ws>\s+)
| (?P<ident>"(?:[^"\\]|\\.)*")
| (?P<string>'(?:[^'\\]|\\.)*')
| (?P<regex>/(?:[^/\\]|\\.)*/)
| (?P<var>\$\{?\w+\}?)
| (?P<duration>\d+(?:ns|ms|u|s|m|h|d|w)\b)
| (?P<number>\d+(?:\.\d+)?)
| (?P<word>[A-Za-z_]\w*)
| (?P<op>=~|!~|!=|<>|<=|>=|[=<>(),*+\-/;])
""", re.VERBOSE)
KEYWORDS = {"select", "from", "where", "and", "or", "group", "by", "time", "fill", "null", "none", "previous",
            "linear", "as", "order", "desc", "asc", "limit", "slimit", "offset", "show", "tag", "values", "with",
            "key", "in", "measurements", "now", "tz"}
FUNCTIONS = {"mean", "min", "max", "last", "first", "count", "sum", "spread", "median", "stddev", "distinct",
             "non_negative_difference", "difference", "derivative", "non_negative_derivative", "integral",
             "cumulative_sum", "moving_average", "elapsed", "percentile", "mode"}


def tokens(query: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(query):
        m = TOKEN.match(query, pos)
        assert m is not None, f"cannot read the query at {query[pos:pos + 30]!r}: {query}"
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup or "", m.group()))
    return out


def _name(kind: str, text: str) -> str:
    return text[1:-1].replace('\\"', '"') if kind == "ident" else text


def problems_of(query: str, variables: set[str]) -> list[str]:
    """What a query names that the historian does not write (empty: all good)."""
    tags, fields, values = written_layout()
    toks = tokens(query)
    problems: list[str] = []
    measurements: set[str] = set()
    aliases: set[str] = set()
    consumed: set[int] = set()
    for i, (kind, text) in enumerate(toks):
        low = text.lower()
        if kind == "word" and low == "from":
            j = i + 1
            while j < len(toks) and toks[j][0] in ("ident", "word", "op", "var") and toks[j][1] != "(":
                k, t = toks[j]
                if k in ("ident", "word") and t.lower() not in KEYWORDS:
                    measurements.add(_name(k, t))
                    consumed.add(j)
                elif k == "word" or (k == "op" and t != ","):
                    break
                j += 1
        elif kind == "word" and low == "as" and i + 1 < len(toks):
            aliases.add(_name(*toks[i + 1]))
            consumed.add(i + 1)
        elif kind == "var" and text.strip("${}") not in variables | GRAFANA_MACROS:
            problems.append(f"variable {text} is not defined")
    for m in measurements - set(tags):
        problems.append(f"measurement {m!r} is not written by the historian")
    known = measurements & set(tags)
    allowed_tags = set().union(*(tags[m] for m in known)) if known else set()
    allowed_fields = set().union(*(fields[m] for m in known)) if known else set()
    for i, (kind, text) in enumerate(toks):
        if i in consumed or kind not in ("ident", "word"):
            continue
        name = _name(kind, text)
        if kind == "word" and (name.lower() in KEYWORDS or name.lower() in FUNCTIONS):
            continue
        if name not in allowed_tags | allowed_fields | aliases:
            problems.append(f"{name!r} is neither a tag nor a field of {sorted(known)}")
            continue
        # a compared enumerated key: its value must be one the historian writes
        if name in values and i + 2 < len(toks) and toks[i + 1][1] in ("=", "!=") and toks[i + 2][0] == "string":
            value = toks[i + 2][1][1:-1]
            if value not in values[name]:
                problems.append(f"{name} = {value!r}: the historian writes no such {name}")
    return problems


@pytest.mark.parametrize(("query", "expected"), [
    ('SELECT mean("value") FROM "spindle_speed" WHERE "line" =~ /^x$/ AND $timeFilter GROUP BY time(1m)', []),
    ('SELECT mean("value") FROM "spindle_sped" WHERE $timeFilter', ["measurement 'spindle_sped'"]),
    ('SELECT mean("val") FROM "spindle_speed" WHERE $timeFilter', ["'val' is neither"]),
    ('SELECT last("text") FROM "state" GROUP BY "machine"', ["'machine' is neither"]),
    ('SELECT "data" FROM "events" WHERE "kind" = \'alarms\'', ["the historian writes no such kind"]),
    ('SELECT "value" FROM "events"', ["'value' is neither"]),
    ('SELECT mean("value") FROM "power" WHERE "asset" =~ /^$nope$/ AND $undefined', ["$undefined"]),
    ('SELECT sum("d") FROM (SELECT last("value") AS "d" FROM "parts_good") GROUP BY time(1h)', []),
])
def test_the_query_check_finds_what_is_not_written(query: str, expected: list[str]) -> None:
    found = problems_of(query, {"line", "asset"})
    assert bool(found) == bool(expected) and all(any(e in f for f in found) for e in expected), found


# -- the dashboards -----------------------------------------------------------------------------------------

def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])  # inside collapsed rows


def custom_options(board: dict[str, Any]) -> dict[str, list[str]]:
    return {v["name"]: [o["value"] for o in v["options"]] for v in board["templating"]["list"] if v["type"] == "custom"}


def queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, InfluxQL) of every query the dashboard sends: variables, annotations, panel targets."""
    for v in board["templating"]["list"]:
        if v["type"] == "query":
            yield f"variable {v['name']}", v["query"]
    for a in board["annotations"]["list"]:
        if a.get("datasource", {}).get("uid") == DATASOURCE_UID:
            yield f"annotation {a['name']}", a["query"]
    for p in panels(board):
        for t in p.get("targets", []):
            if t.get("datasource", p.get("datasource", {})).get("uid") == DATASOURCE_UID:
                yield f"panel {p['title']!r} {t['refId']}", t["query"]


def expand(query: str, options: dict[str, list[str]]) -> list[str]:
    """One query per value of each custom variable it uses (Grafana repeats panels over them)."""
    out = [query]
    for name, values in options.items():
        out = [q.replace(f"${name}", v) for q in out for v in values] if any(f"${name}" in q for q in out) else out
    return out


def test_there_is_a_dashboard_for_each_view() -> None:
    titles = {load(p)["title"] for p in influx_boards()}
    assert titles == {"Line overview", "Asset detail", "OEE and throughput", "Alarms and data quality"}


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    board = load(path)
    sources = provisioned()
    assert board["uid"] and len(board["uid"]) <= 40 and board["schemaVersion"] >= 36
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for p in panels(board):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, f"{p['title']}: gridPos {g}"
        covered = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not covered & cells, f"{p['title']} overlaps another panel"
        cells |= covered
        refs = [t["refId"] for t in p["targets"]]
        assert p["targets"] and len(refs) == len(set(refs)), f"{p['title']}: targets need unique refIds"
        for t in p["targets"]:
            ds = t.get("datasource", p["datasource"])
            if ds["type"] == "__expr__":
                used = set(re.findall(r"\$(\w+)", t["expression"]))
                assert used <= set(refs) - {t["refId"]}, f"{p['title']}: expression uses {used}"
            else:
                assert ds["uid"] in sources and ds["type"] == sources[ds["uid"]]["type"], f"{p['title']}: {ds}"
                assert ds["type"] != "influxdb" or t["rawQuery"] is True
        if "repeat" in p:
            assert p["repeat"] in {v["name"] for v in board["templating"]["list"]}
    names = [v["name"] for v in board["templating"]["list"]]
    for i, v in enumerate(board["templating"]["list"]):  # a variable's query uses only variables before it
        used = set(re.findall(r"\$(\w+)", v.get("query", ""))) if v["type"] == "query" else set()
        assert used <= set(names[:i]), f"variable {v['name']} uses {used - set(names[:i])} before it is defined"


def test_dashboard_uids_are_unique() -> None:
    uids = [load(p)["uid"] for p in BOARDS]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("path", influx_boards(), ids=lambda p: p.name)
def test_every_query_names_only_what_the_agent_writes(path: Path) -> None:
    board = load(path)
    variables = {v["name"] for v in board["templating"]["list"]}
    options = custom_options(board)
    found = [f"{where}: {problem}" for where, q in queries(board) for expanded in expand(q, options)
             for problem in problems_of(expanded, variables)]
    assert not found, "\n".join(found)


def test_provisioning_takes_the_token_from_the_environment() -> None:
    ds = provisioned()[DATASOURCE_UID]
    assert ds["type"] == "influxdb" and ds["jsonData"]["version"] == "InfluxQL"
    assert ds["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUX_TOKEN}"
    assert ds["jsonData"]["httpHeaderName1"] == "Authorization"
    assert (ds["url"], ds["jsonData"]["dbName"]) == ("${INFLUX_URL}", "${INFLUX_BUCKET}")
    providers = yaml.safe_load((DASHBOARDS / "provisioning" / "dashboards" / "factory-twin.yaml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file" and provider["folder"] == "factory-twin" and provider["options"]["path"]


def test_the_compose_stack_gives_grafana_every_variable_the_provisioning_uses() -> None:
    compose = PROJECT / "docker-compose.yml"
    if not compose.exists():
        pytest.skip("no docker-compose.yml in this tree")
    grafana = yaml.safe_load(compose.read_text())["services"]["grafana"]
    env = set(grafana.get("environment") or {})
    used = {v for f in (DASHBOARDS / "provisioning").rglob("*.yaml")
            for v in re.findall(r"\$\{(\w+)\}", f.read_text())}
    assert used and used <= env, f"not set for grafana in docker-compose.yml: {sorted(used - env)}"
    mounts = {m.split(":")[0]: m.split(":")[1] for m in grafana["volumes"] if m.startswith("./")}
    providers = yaml.safe_load((DASHBOARDS / "provisioning" / "dashboards" / "factory-twin.yaml").read_text())
    assert mounts["./dashboards/json"] == providers["providers"][0]["options"]["path"]


# -- every query on a real InfluxDB, over a line's history -------------------------------------------------

# the hour ends at the last half-hour mark, never near a clock hour: a panel that groups by the hour then sees
# two half-hour buckets (an hour starting a minute before a clock hour left the first bucket a minute long, with
# no part in it)
_NOW = datetime.now(UTC).replace(second=0, microsecond=0)
END = _NOW.replace(minute=30) - (timedelta(hours=1) if _NOW.minute < 30 else timedelta(0))
START = END - timedelta(hours=1)


def _alarms(plant: PlantConfig) -> list[Record]:
    """A spindle alarm on each CNC, an uncertain sample and scrap: what an hour of history may have none of."""
    out: list[Record] = [Sample(a.path, "parts_scrap", 100 + n, "parts", START + timedelta(minutes=5 + 15 * n))
                         for a in plant.assets() if a.id.startswith(("cnc-", "robot-")) for n in range(3)]
    for i, asset in enumerate(a for a in plant.assets() if a.id.startswith("cnc-")):
        at = START + timedelta(minutes=10 + 10 * i)
        out += [Sample(asset.path, "alarm_code", "E101", "", at),
                Event(asset.path, EventKind.ALARM, at, {"alarm_code": "E101", "active": True}),
                Sample(asset.path, "alarm_code", "none", "", at + timedelta(minutes=3)),
                Sample(asset.path, "spindle_speed", 0.0, "rpm", at + timedelta(seconds=0.5), Quality.UNCERTAIN)]
    return out


@pytest.fixture(scope="module")
def history(influxdb: Influxd) -> Iterator[InfluxHistorian]:
    database = f"dash{uuid.uuid4().hex[:10]}"
    influxdb.create_database(database)
    historian = InfluxHistorian(influxdb.url, database, write_api="v1")
    plant = load_config(PROJECT / "configs" / "demo-plant.yaml", PlantConfig)
    for chunk in LineHistory(plant, END, 3600).chunks(900):
        historian.write(chunk)
    historian.write(_alarms(plant))
    yield historian
    historian.close()


def grafana_fill(query: str) -> str:
    """The query as Grafana sends it for the last hour of line1, cnc-1 (and cnc-2 for multi-value variables)."""
    start, end = (t.isoformat().replace("+00:00", "Z") for t in (START, END))
    bounds = f"time >= '{start}' AND time <= '{end}'"
    return (query.replace("$timeFilter", bounds).replace("$__interval", "1m").replace("$line", "line1")
            .replace("$asset", "cnc-1").replace("$station", "(cnc-1|cnc-2|robot-1)"))


@pytest.mark.parametrize("path", influx_boards(), ids=lambda p: p.name)
def test_every_query_runs_and_finds_data(path: Path, history: InfluxHistorian) -> None:
    board = load(path)
    options = custom_options(board)
    empty = []
    for where, query in queries(board):
        found = False
        for q in expand(query, options):  # each signal of the list need not be one of cnc-1's
            [result] = history.query(grafana_fill(q))  # raises on any error InfluxDB reports
            found = found or bool(result.get("series"))
        if not found:
            empty.append(f"{where}: {query}")
    assert not empty, "queries that found nothing in an hour of the line's history:\n" + "\n".join(empty)
