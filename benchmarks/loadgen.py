"""Load for the ingest benchmark, in its own process so it does not share the agent's interpreter.

    python -m benchmarks.loadgen mqtt --port P --seconds S --rate R --fields F --topics T
    python -m benchmarks.loadgen opcua --port P --variables N --seconds S

Each prints one JSON line at the end: what it produced. The OPC-UA server prints "ready", starts changing
its variables when a line arrives on stdin, and stops serving at the next line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import struct
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TypedDict

import orjson

FIELDS_PER_OBJECT = 10


class MqttShape:
    """What the MQTT load sends, so that a reader can rebuild every (series, ts, value) it produced.

    One value per message (`fields` 1): ``{"ts": ms, "value": n}`` on ``plant/line1/m{i}/s{j}``, `topics` of them
    (ten signals per machine), n the message's number. Several (`fields` F): ``{"ts": ms, "f0": .., "f{F-1}": ..}``
    on ``bench/d{i}/data``, field k of message n holding n * F + k. Messages go round-robin over the topics;
    message n is in round n // topics and stamped t0_ms + round, so every series has one value per millisecond,
    none in the future.
    """

    def __init__(self, fields: int, topics: int, t0_ms: int) -> None:
        self.fields, self.topics, self.t0_ms = fields, topics, t0_ms

    def topic(self, i: int) -> str:
        return f"plant/line1/m{i // 10}/s{i % 10}" if self.fields == 1 else f"bench/d{i}/data"

    def payload(self, n: int) -> bytes:
        ts = self.t0_ms + n // self.topics
        if self.fields == 1:
            return b'{"ts": %d, "value": %d}' % (ts, n)
        return orjson.dumps({"ts": ts} | {f"f{k}": float(n * self.fields + k) for k in range(self.fields)})

    def produced(self, messages: int) -> set[tuple[str, int, float]]:
        """(series, ts in ms, value) of the first `messages` messages; series is topic/field."""
        out: set[tuple[str, int, float]] = set()
        names = [self.topic(i) for i in range(self.topics)]
        for n in range(messages):
            i, ts = n % self.topics, self.t0_ms + n // self.topics
            if self.fields == 1:
                out.add((names[i] + "/value", ts, float(n)))
            else:
                out.update((f"{names[i]}/f{k}", ts, float(n * self.fields + k)) for k in range(self.fields))
        return out


class MqttLoad(TypedDict):
    messages: int  # PUBLISH packets sent
    samples: int  # messages x fields
    seconds: float  # sending time
    acked: int | None  # PUBACKs received (QoS 1), None at QoS 0
    t0_ms: int
    fields: int
    topics: int
    qos: int


class OpcuaLoad(TypedDict):
    changes: int  # values written (each a change)
    samples: int
    seconds: float


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish_packet(topic: bytes, mid: int, payload: bytes, qos: int) -> bytes:
    if qos == 0:
        body = struct.pack("!H", len(topic)) + topic + payload
        return b"\x30" + _remaining_length(len(body)) + body
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", mid) + payload
    return b"\x32" + _remaining_length(len(body)) + body  # PUBLISH, QoS 1


def mqtt_load(port: int, seconds: float, rate: float, fields: int, topics: int, qos: int = 1) -> MqttLoad:
    """Messages of `MqttShape` (QoS 1, or 0) at up to `rate`/s, written straight onto an MQTT 3.1.1 socket.

    A load generator only: it must not be what limits the measurement, so it builds its PUBLISH packets by
    hand and sends them in bursts of a millisecond, with the broker's acknowledgements read on another thread.
    The counts it prints are what it sent and, at QoS 1, what the broker acknowledged.
    """
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client_id = f"factory-twin-loadgen-{os.getpid()}".encode()
    connect = b"\x00\x04MQTT\x04\x02" + struct.pack("!H", 60) + struct.pack("!H", len(client_id)) + client_id
    sock.sendall(b"\x10" + _remaining_length(len(connect)) + connect)
    if sock.recv(4)[:1] != b"\x20":
        raise RuntimeError("the broker refused the load generator")
    acked = [0]

    def read_acks() -> None:
        buf = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            whole = len(buf) - len(buf) % 4  # PUBACKs (and PINGRESPs) are 2 + 2 bytes each
            acked[0] += sum(1 for i in range(0, whole, 4) if buf[i] == 0x40)
            buf = buf[whole:]

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    t0_ms = int(time.time() * 1000)
    shape = MqttShape(fields, topics, t0_ms)
    names = [shape.topic(i).encode() for i in range(topics)]
    start = time.monotonic()
    n = 0
    while (now := time.monotonic()) - start < seconds:
        due = min(int((now - start) * rate) + 1, int(seconds * rate))
        if n >= due:
            time.sleep(0.001)  # pacing the load
            continue
        burst = b"".join(_publish_packet(names[k % topics], k % 65535 + 1, shape.payload(k), qos)
                         for k in range(n, due))
        sock.sendall(burst)
        n = due
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + 60
    while qos and acked[0] < n and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        sock.sendall(b"\xe0\x00")  # DISCONNECT
        sock.close()
    return {"messages": n, "samples": n * fields, "seconds": elapsed, "acked": acked[0] if qos else None,
            "t0_ms": t0_ms, "fields": fields, "topics": topics, "qos": qos}


async def opcua_load(port: int, variables: int, seconds: float) -> OpcuaLoad:
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
        start, started_at = time.monotonic(), time.time()
        n = 0
        while time.monotonic() - start < seconds:
            for nd in nodes:
                n += 1
                value = ua.DataValue(ua.Variant(float(n), ua.VariantType.Double),
                                     SourceTimestamp=datetime.now(UTC))
                await server.write_attribute_value(nd.nodeid, value)
            await asyncio.sleep(0)
        elapsed = time.monotonic() - start
        print(orjson.dumps({"changes": n, "seconds": elapsed, "started_at": started_at}).decode(), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # stay up until the reader has taken everything
    return {"changes": n, "samples": n, "seconds": elapsed}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.loadgen")
    sub = p.add_subparsers(dest="kind", required=True)
    m = sub.add_parser("mqtt")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--seconds", type=float, default=20)
    m.add_argument("--rate", type=float, default=5000)
    m.add_argument("--fields", type=int, default=10)
    m.add_argument("--topics", type=int, default=20)
    m.add_argument("--qos", type=int, choices=(0, 1), default=1)
    o = sub.add_parser("opcua")
    o.add_argument("--port", type=int, required=True)
    o.add_argument("--variables", type=int, default=1000)
    o.add_argument("--seconds", type=float, default=20)
    a = p.parse_args(argv)
    result: MqttLoad | OpcuaLoad
    if a.kind == "mqtt":
        result = mqtt_load(a.port, a.seconds, a.rate, a.fields, a.topics, a.qos)
    else:
        result = asyncio.run(opcua_load(a.port, a.variables, a.seconds))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
