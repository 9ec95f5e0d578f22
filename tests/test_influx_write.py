"""The agent's historian sink on each backend, and the InfluxDB write path through influxdb-client.

VictoriaMetrics accepts influxdb-client's ``/api/v2/write`` but keeps only numeric fields (as
``<measurement>_<field>``, millisecond timestamps) and cannot answer InfluxQL: there we check what was
written, tags and numbers; the string fields and every query are checked on InfluxDB 1.6.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from support import wait_until

from benchmarks.influxd import Influxd
from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sinks.historian import HistorianSink, HistorianSinkConfig
from historian.influx import InfluxHistorian
from plantmodel.config import ConfigError, parse_config
from plantmodel.telemetry import Event, EventKind, Sample

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
CNC = "acme/plant1/machining/line1/turning/cnc-1"
BATCH = [Sample(CNC, "spindle_speed", 8000.0 + i, "rpm", T0 + timedelta(seconds=i)) for i in range(5)] + [
    Sample(CNC, "parts_good", 12, "parts", T0), Sample(CNC, "state", "producing", "", T0),
    Event(CNC, EventKind.PART, T0, {"outcome": "good", "count": 1}),
    Sample(CNC, "spindle_speed", math.nan, "rpm", T0 + timedelta(seconds=9))]


def _export(url: str) -> dict[str, tuple[dict[str, str], list[float], list[int]]]:
    httpx.get(f"{url}/internal/force_flush", timeout=5)
    # explicit bounds: the export's default end is the server's "now", and the test data sits near it
    params = {"match[]": '{__name__=~".+_value"}', "start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}
    response = httpx.get(f"{url}/api/v1/export", params=params, timeout=5)
    series = [orjson.loads(line) for line in response.text.splitlines() if line]
    return {s["metric"]["__name__"]: (s["metric"], s["values"], s["timestamps"]) for s in series
            if s["metric"].get("path") == CNC}


def _run_sink(config: HistorianSinkConfig, data_dir: Path) -> Quarantine:
    quarantine = Quarantine(data_dir / "quarantine.db")
    sink = HistorianSink(config, PluginContext("test-agent", data_dir, lambda _: None, quarantine))

    async def go() -> None:
        await sink.start()
        try:
            await sink.write(BATCH)
        finally:
            await sink.close()

    asyncio.run(go())
    return quarantine


def test_sink_writes_through_influxdb_client_to_api_v2_write(victoria_metrics: str, tmp_path: Path) -> None:
    config = HistorianSinkConfig(type="historian", name="influx", influxdb={
        "url": victoria_metrics, "database": "factory", "bucket": "factory", "org": "acme", "write_api": "v2"})
    quarantine = _run_sink(config, tmp_path)
    exported = wait_until(lambda: len(_export(victoria_metrics)) == 2 and _export(victoria_metrics), 20,
                          "VictoriaMetrics to show the written series")
    tags, values, stamps = exported["spindle_speed_value"]
    assert {k: v for k, v in tags.items() if k not in ("__name__", "db")} == {
        "path": CNC, "site": "plant1", "area": "machining", "line": "line1", "cell": "turning", "asset": "cnc-1",
        "kind": "analog", "unit": "rpm"}
    assert values == [8000.0 + i for i in range(5)]
    assert stamps == [int((T0 + timedelta(seconds=i)).timestamp() * 1000) for i in range(5)]
    assert exported["parts_good_value"][0]["kind"] == "counter" and exported["parts_good_value"][1] == [12.0]
    assert [(r.source, r.reason, r.field) for r in quarantine.recent()] == [
        ("sink:influx", "not_finite", f"{CNC}.value")]
    quarantine.close()


@pytest.mark.parametrize("backend", ["sqlite", "influxdb"])
def test_sink_stores_the_good_and_quarantines_the_refused(backend: str, tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        config = HistorianSinkConfig(type="historian", name="history", path=tmp_path / "h.db")
    else:
        server: Influxd = request.getfixturevalue("influxdb")
        database = f"t{uuid.uuid4().hex[:12]}"
        server.create_database(database)
        config = HistorianSinkConfig(type="historian", name="history", influxdb={
            "url": server.url, "database": database, "write_api": "v1"})
    quarantine = _run_sink(config, tmp_path)
    rejected = quarantine.recent()
    assert [(r.reason, r.field) for r in rejected] == [("not_finite", f"{CNC}.value")]
    assert orjson.loads(rejected[0].payload)["signal"] == "spindle_speed"
    quarantine.close()
    if backend == "sqlite":
        from historian import SqliteHistorian

        history = SqliteHistorian(tmp_path / "h.db", readonly=True)
    else:
        history = InfluxHistorian(server.url, database, write_api="v1")
    assert history.count_samples() == 7 and len(history.events()) == 1
    history.close()


def test_sink_config_names_the_backend_problem() -> None:
    with pytest.raises(ConfigError, match=r"sinks\[0\].*either path .* or influxdb"):
        parse_config("name: a\ndata_dir: /x\nsources: [{type: mqtt, name: m, broker: {}, subscriptions: []}]\n"
                     "sinks: [{type: historian, name: h}]\n", _agent_model())
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.influxdb\.url .*https\?://"):
        parse_config("name: a\ndata_dir: /x\nsources: [{type: mqtt, name: m, broker: {}, subscriptions: []}]\n"
                     "sinks: [{type: historian, name: h, influxdb: {url: localhost, database: d}}]\n",
                     _agent_model())


def _agent_model() -> type:
    from edge_agent.config import agent_config_model

    return agent_config_model()
