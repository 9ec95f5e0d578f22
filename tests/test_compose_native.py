"""The compose topology run without Docker: the stack's own service configs (configs/compose/*), with only the
hosts, ports and folders a container network would give moved to loopback through their environment variables.

- mosquitto with the stack's mosquitto.conf, its ACL and users (edge, twin);
- per line a simulator (`sim serve configs/compose/plant-lineN.yaml`, recording every value it puts on the
  wire) and an edge agent (`edge run configs/compose/edge-lineN.yaml`, influxdb-client to /api/v2/write);
- two twin instances (`twin serve configs/compose/twin-{a,b}.yaml`) splitting the lines between them and
  reading history from InfluxDB with InfluxQL;
- InfluxDB 2.x cannot run here: a small relay takes its place at INFLUX_URL. It hands each /api/v2/write to
  Debian's InfluxDB 1.6 (/write, the bucket as database: what the stack's DBRP mapping does) and to
  VictoriaMetrics (the v2 write API, deduplication off, so a sample written twice shows twice), and /query to
  InfluxDB 1.6.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support import (
    PROJECT,
    Child,
    ServedApp,
    StackMosquitto,
    VictoriaMetrics,
    agent_health,
    auth,
    free_port,
    wait_until,
)

from benchmarks.influxd import Influxd
from historian.influx import InfluxHistorian

COMPOSE = PROJECT / "configs" / "compose"
LINES = {n: f"acme/plant1/machining/line{n}" for n in (1, 2)}
SPEED, RUN_S = 5.0, 15.0  # a bounded run: simulated minutes of two lines, parts and state changes in it
SECRETS = {"MQTT_EDGE_PASSWORD": "edge-secret-0123456789", "MQTT_TWIN_PASSWORD": "twin-secret-0123456789",
           "INFLUX_TOKEN": "influx-token-0123456789"}


def relay(influx: str, vm: str) -> Starlette:
    """InfluxDB 2.x's two faces for this test: the v2 write API (to both stores) and InfluxQL reads."""
    client = httpx.AsyncClient(timeout=30)

    async def write(request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-encoding", "content-type")}
        q = request.query_params
        # the store that overwrites a repeated point first: a retry after a failure there duplicates nothing
        first = await client.post(f"{influx}/write", params={"db": q["bucket"], "precision": q.get("precision", "ns")},
                                  content=body, headers=headers)
        if first.status_code != 204:
            return Response(first.content, first.status_code)
        second = await client.post(f"{vm}/api/v2/write", params=dict(q), content=body, headers=headers)
        return Response(second.content, 204 if second.status_code == 204 else 503)

    async def query(request: Request) -> Response:
        r = await client.request(request.method, f"{influx}/query", params=dict(request.query_params),
                                 content=await request.body())
        return Response(r.content, r.status_code, media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route("/api/v2/write", write, methods=["POST"]),
                             Route("/query", query, methods=["GET", "POST"])], lifespan=lifespan)


def produced(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1e6) // 1000


@pytest.fixture
def stack(tmp_path: Path, influxdb: Influxd) -> Iterator[dict[str, Any]]:
    bucket = f"factory{uuid.uuid4().hex[:8]}"
    influxdb.create_database(bucket)  # as the DBRP mapping makes the bucket a database for InfluxQL
    vm = VictoriaMetrics(tmp_path / "vm").start()  # no deduplication: a duplicate shows
    broker = StackMosquitto(tmp_path / "mosquitto", {"edge": SECRETS["MQTT_EDGE_PASSWORD"],
                                                      "twin": SECRETS["MQTT_TWIN_PASSWORD"]}).start()
    ports = {k: free_port() for k in ("twin-a", "twin-b", "edge-1", "edge-2", "opcua-1", "opcua-2")}
    urls = {t: f"http://127.0.0.1:{ports[t]}" for t in ("twin-a", "twin-b")}
    served = ServedApp(relay(influxdb.url, vm.url)).__enter__()
    common = {**SECRETS, "FT_MQTT_HOST": "127.0.0.1", "FT_MQTT_PORT": str(broker.port), "FT_DATA_DIR": str(tmp_path),
              "INFLUX_URL": served.url, "INFLUX_BUCKET": bucket, "INFLUX_ORG": "acme"}
    children: list[Child] = []
    try:
        for name, peer in (("a", "b"), ("b", "a")):
            children.append(Child(f"twin-{name}", ["twin", "serve", str(COMPOSE / f"twin-{name}.yaml"),
                                                   "--log-level", "warning"], tmp_path,
                                  common | {"FT_HTTP_HOST": "127.0.0.1", "FT_HTTP_PORT": str(ports[f"twin-{name}"]),
                                            "FT_PEER_URL": urls[f"twin-{peer}"]}))
        for n in (1, 2):
            children.append(Child(f"edge-{n}", ["edge", "run", str(COMPOSE / f"edge-line{n}.yaml")], tmp_path,
                                  common | {"FT_AGENT_HEALTH_HOST": "127.0.0.1",
                                            "FT_AGENT_HEALTH_PORT": str(ports[f"edge-{n}"]),
                                            "FT_OPCUA_ENDPOINT": f"opc.tcp://127.0.0.1:{ports[f'opcua-{n}']}"
                                                                 "/factory-twin/"}))
            children.append(Child(f"sim-{n}", ["sim", "serve", str(COMPOSE / f"plant-line{n}.yaml"),
                                               "--opcua-port", str(ports[f"opcua-{n}"]), "--speed", str(SPEED),
                                               "--duration", str(RUN_S), "--record", str(tmp_path / f"sim-{n}.jsonl"),
                                               "--start-on-subscribe", "90"], tmp_path))
        yield {"tmp": tmp_path, "urls": urls, "ports": ports, "vm": vm, "influx": influxdb, "bucket": bucket,
               "children": {c.name: c for c in children}}
    finally:
        for child in reversed(children):
            child.stop()
        served.__exit__(None, None, None)
        broker.stop()
        vm.stop()


def test_the_compose_stack_without_docker(stack: dict[str, Any]) -> None:
    tmp, urls = stack["tmp"], stack["urls"]
    records = {n: tmp / f"sim-{n}.jsonl" for n in (1, 2)}
    wait_until(lambda: all(r.exists() for r in records.values()), 150, "both simulators to finish their bounded run")
    made = [p for n in (1, 2) for p in produced(records[n])]
    assert {p["asset"].rsplit("/", 2)[0] for p in made} == set(LINES.values())

    # every sample produced reaches the TSDB exactly once: VictoriaMetrics keeps every copy it is sent
    numbers = Counter((p["asset"], p["signal"], ms(p["ts"]), float(p["value"])) for p in made
                      if not isinstance(p["value"], str))
    assert len(numbers) > 1000 and max(numbers.values()) == 1, "two values of one series in one millisecond"

    def in_tsdb() -> Counter[tuple[str, str, int, float]]:
        stored: Counter[tuple[str, str, int, float]] = Counter()
        for metric, values, stamps in stack["vm"].export('{__name__=~".+_value", path=~"acme/.+"}'):
            signal = metric["__name__"].removesuffix("_value")
            stored.update((metric["path"], signal, t, v) for t, v in zip(stamps, values, strict=True))
        return stored

    # the last values are still on their way (OPC-UA publishing interval, spool, batch) when the record closes
    wait_until(lambda: sum(in_tsdb().values()) >= len(numbers), 60, f"{len(numbers)} numbers in the TSDB",
               interval=0.5)
    stored = in_tsdb()
    duplicates = {k: c for k, c in stored.items() if c > 1}
    assert not duplicates, f"{len(duplicates)} samples stored more than once, e.g. {list(duplicates)[:3]}"
    missing = sorted(set(numbers) - set(stored), key=lambda k: k[2])
    assert set(stored) == set(numbers), (
        f"missing {len(missing)} of {len(numbers)} (produced {min(k[2] for k in numbers)}..{max(k[2] for k in numbers)}"
        f" ms): {missing[:3]} ... {missing[-3:]}; unexpected {len(set(stored) - set(numbers))}")
    for n in (1, 2):  # and everything the agents took in is delivered (InfluxDB and the namespace)
        wait_until(lambda n=n: all(s["spool_depth"] == 0 and not s["failing"]
                                   for s in agent_health(stack["ports"][f"edge-{n}"])["sinks"].values()),
                   60, f"the agent of line {n} to deliver everything")
    # text (states) lives in InfluxDB only: each one there, as produced
    influx = InfluxHistorian(stack["influx"].url, stack["bucket"], readonly=True)
    texts = {(p["asset"], p["signal"], p["ts"], p["value"]) for p in made if isinstance(p["value"], str)}
    got = {(s.asset, s.signal, s.ts.isoformat().replace("+00:00", "Z"), s.value)
           for s in influx.samples("acme/*") if isinstance(s.value, str)}
    assert got == texts and len(texts) > 20
    influx.close()

    last: dict[tuple[str, str], Any] = {}
    for p in sorted(made, key=lambda p: p["ts"]):
        last[(p["asset"], p["signal"])] = p
    cnc = {n: f"{line}/turning/cnc-1" for n, line in LINES.items()}
    with httpx.Client(headers=auth("viewer"), timeout=30) as api:
        # both instances answer for the whole plant: each line from the instance that owns its stream
        for url in urls.values():
            assets = {a["id"]: a for a in api.get(f"{url}/api/assets").json()}
            assert len(assets) == 22 and {a["line"] for a in assets.values()} == set(LINES.values())
            for path in cnc.values():
                assert assets[path]["signals"]["spindle_speed"]["value"] == last[(path, "spindle_speed")]["value"]
        # history and replay through InfluxDB: asked of the instance owning the line, and of the other one (which
        # forwards it; the owner's first series read starts its worker processes, so it is asked first)
        for n, path in cnc.items():
            series = sorted((p["ts"], p["value"]) for p in made if (p["asset"], p["signal"]) == (path, "spindle_speed"))
            start, end = series[0][0], series[-1][0]
            end_after = (datetime.fromisoformat(end.replace("Z", "+00:00")) + timedelta(microseconds=1)).isoformat()
            owner, other = (urls["twin-a"], urls["twin-b"]) if n == 1 else (urls["twin-b"], urls["twin-a"])
            for url in (owner, other):
                r = api.get(f"{url}/api/history/{path}/spindle_speed", params={"start": start, "end": end_after})
                assert r.status_code == 200, r.text
                assert [(p["ts"], p["value"]) for p in r.json()["points"]] == series
            r = api.get(f"{other}/api/history/{path}/spindle_speed",
                        params={"start": start, "end": end_after, "step_s": 10})
            assert r.status_code == 200, r.text
            assert sum(w["count"] for w in r.json()["points"]) == len(series)
        states = sorted((p["ts"], p["value"]) for p in made if (p["asset"], p["signal"]) == (cnc[2], "state"))
        at = states[len(states) // 2][0]
        replay = {a["id"]: a for a in api.get(f"{urls['twin-a']}/api/replay", params={"at": at}).json()["assets"]}
        assert replay[cnc[2]]["state"] == states[len(states) // 2][1]
        for url in urls.values():  # the OEE each rebuilt: every line has one
            assert {line["line"] for line in api.get(f"{url}/api/oee").json()["lines"]} == set(LINES.values())

        # one instance dies: the other answers for its own lines and names the peer that did not
        twin_b = stack["children"]["twin-b"]
        twin_b.proc.kill()
        twin_b.proc.wait(10)
        r = api.get(f"{urls['twin-a']}/api/assets")
        assert r.status_code == 200 and r.headers["x-factory-twin-partial"] == urls["twin-b"]
        mine = {a["id"]: a for a in r.json()}
        assert mine[cnc[1]]["signals"]["spindle_speed"]["value"] == last[(cnc[1], "spindle_speed")]["value"]
        r = api.get(f"{urls['twin-a']}/api/assets/{cnc[2]}")
        assert r.status_code == 502 and urls["twin-b"] in r.json()["detail"]
        assert api.get(f"{urls['twin-a']}/api/assets/{cnc[1]}").status_code == 200
    assert os.environ.get("INFLUX_TOKEN") is None  # the secrets went to the children only
