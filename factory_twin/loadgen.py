"""Load for the ingest benchmark, in its own process so it does not share the agent's interpreter.

    python -m factory_twin.loadgen mqtt --port P --seconds S --rate R --fields F --devices D
    python -m factory_twin.loadgen opcua --port P --variables N --seconds S

Each prints one JSON line at the end: what it produced. The OPC-UA server prints "ready", starts changing
its variables when a line arrives on stdin, and stops serving at the next line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime

import orjson

FIELDS_PER_OBJECT = 10


def mqtt_load(port: int, seconds: float, rate: float, fields: int, devices: int) -> dict[str, float]:
    """QoS 1 JSON messages, `fields` numbers each, round-robin over `devices` topics, at up to `rate`/s."""
    from plantmodel import mqtt

    cfg = mqtt.BrokerConfig(port=port)
    client = mqtt.make_client(cfg, "factory-twin-loadgen")
    client.max_inflight_messages_set(10_000)
    acked = [0]  # a count: message ids wrap at 65,535

    def on_publish(c: object, u: object, mid: int, rc: object, p: object = None) -> None:
        acked[0] += 1

    client.on_publish = on_publish  # type: ignore[assignment]
    mqtt.start(client, cfg)
    deadline = time.monotonic() + 10
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    t0_ms = int(time.time() * 1000) - 3_600_000  # each device's series 1 ms apart, in the past hour
    seq = [0] * devices
    start = time.monotonic()
    n = 0
    while (now := time.monotonic()) - start < seconds:
        if n >= (now - start) * rate:
            time.sleep(0.001)  # pacing the load
            continue
        d = n % devices
        body = {"ts": t0_ms + seq[d]} | {f"f{k}": float(n * fields + k) for k in range(fields)}
        seq[d] += 1
        client.publish(f"bench/d{d}/data", orjson.dumps(body), qos=1)
        n += 1
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + 120
    while acked[0] < n and time.monotonic() < deadline:
        time.sleep(0.05)
    mqtt.stop(client)
    return {"messages": n, "samples": n * fields, "seconds": elapsed, "acked": acked[0]}


async def opcua_load(port: int, variables: int, seconds: float) -> dict[str, float]:
    """`variables` Doubles in objects bench/site/area/line/cell/dev<k>, all rewritten as fast as the server
    allows, from the first line on stdin; every write is a change (the value always differs)."""
    from asyncua import Server, ua

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace("urn:factory-twin:bench")
    node = server.nodes.objects
    for name in ("bench", "site", "area", "line", "cell"):
        node = await node.add_folder(f"ns={idx};s={name}", f"{idx}:{name}")
    nodes = []
    for k in range((variables + FIELDS_PER_OBJECT - 1) // FIELDS_PER_OBJECT):
        obj = await node.add_object(f"ns={idx};s=dev{k}", f"{idx}:dev{k}")
        for v in range(min(FIELDS_PER_OBJECT, variables - k * FIELDS_PER_OBJECT)):
            nodes.append(await obj.add_variable(f"ns={idx};s=dev{k}.v{v}", f"{idx}:v{v}", 0.0))
    async with server:
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            for nd in nodes:
                n += 1
                value = ua.DataValue(ua.Variant(float(n), ua.VariantType.Double),
                                     SourceTimestamp=datetime.now(UTC))
                await server.write_attribute_value(nd.nodeid, value)
            await asyncio.sleep(0)
        elapsed = time.monotonic() - start
        print(orjson.dumps({"changes": n, "seconds": elapsed}).decode(), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # stay up until the reader has taken everything
    return {"changes": n, "samples": n, "seconds": elapsed}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m factory_twin.loadgen")
    sub = p.add_subparsers(dest="kind", required=True)
    m = sub.add_parser("mqtt")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--seconds", type=float, default=20)
    m.add_argument("--rate", type=float, default=5000)
    m.add_argument("--fields", type=int, default=10)
    m.add_argument("--devices", type=int, default=20)
    o = sub.add_parser("opcua")
    o.add_argument("--port", type=int, required=True)
    o.add_argument("--variables", type=int, default=1000)
    o.add_argument("--seconds", type=float, default=20)
    a = p.parse_args(argv)
    if a.kind == "mqtt":
        result = mqtt_load(a.port, a.seconds, a.rate, a.fields, a.devices)
    else:
        result = asyncio.run(opcua_load(a.port, a.variables, a.seconds))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
