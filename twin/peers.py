"""Partitioned twin instances: which lines are ours, what we subscribe to, and asking peers for the rest.

Each instance owns some lines (`partition.lines`) and takes their stream through an MQTT 5 shared
subscription, `$share/<group>/<line>/#`. The API stays the same on every instance:

- `GET /api/assets` answers for every line: our own lines from our state, each peer's lines from that peer
  (asked concurrently). If a peer does not answer, its lines come from our own (stale) state and the
  response carries `X-Factory-Twin-Partial: <peer url>`.
- any other `/api/<resource>/<line path>/...` request (an asset, its history, its OEE) is forwarded to the
  line's owner, with the caller's credentials, and the owner's answer is returned as is.

A request that comes from a peer carries `X-Factory-Twin-Peer: 1` and is answered locally, so requests
never travel in circles.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plantmodel.plant import PlantConfig
from twin.config import PartitionConfig, TwinConfig

PEER_HEADER = "x-factory-twin-peer"
PARTIAL_HEADER = "x-factory-twin-partial"
_FORWARDED = (b"authorization", b"x-api-key", b"content-type", b"accept")


def feed_topics(config: TwinConfig, plant: PlantConfig) -> list[str]:
    """The whole enterprise, or with a partition one shared subscription per owned line."""
    part = config.partition
    if part is None:
        return [f"{plant.enterprise}/#"]
    return [f"$share/{part.group}/{line}/#" for line in part.lines]


class PeerRouting:
    """ASGI middleware in front of the twin's API; see the module docstring for what it routes where."""

    def __init__(self, app: ASGIApp, partition: PartitionConfig) -> None:
        self.app, self.partition = app, partition
        self.owner = {line: peer.url.rstrip("/") for peer in partition.peers for line in peer.lines}

    def owner_of(self, path: str) -> str | None:
        """The peer URL owning the line that `path` (an asset or line path) belongs to; None: ours or nobody's."""
        line = "/".join(path.strip("/").split("/")[:4])
        return self.owner.get(line)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.owner or _has_header(scope, PEER_HEADER.encode()):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/api/assets" and scope["method"] == "GET":
            await self._merged_assets(scope, receive, send)
            return
        parts = path.split("/", 3)  # "", "api", resource, rest
        peer = self.owner_of(parts[3]) if len(parts) == 4 and parts[1] == "api" else None
        if peer is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            async with httpx.AsyncClient(timeout=self.partition.timeout_s) as client:
                r = await client.request(scope["method"], peer + path, params=scope["query_string"].decode(),
                                         content=body, headers=_forward_headers(scope))
        except httpx.HTTPError as exc:
            await _respond(send, 502, orjson.dumps({"detail": f"the twin instance owning this line ({peer}) did "
                                                              f"not answer: {type(exc).__name__}"}))
            return
        await _respond(send, r.status_code, r.content, r.headers.get("content-type", "application/json"))

    async def _merged_assets(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, headers, body = await _call_local(self.app, scope, receive)
        if status != 200:  # e.g. 401: the caller gets our refusal as it is
            await _respond(send, status, body, _header(headers, b"content-type") or "application/json")
            return
        local: list[dict[str, Any]] = orjson.loads(body)
        peers = sorted(set(self.owner.values()))
        answers = await asyncio.gather(*(self._ask(url, scope) for url in peers))
        merged = [a for a in local if self.owner_of(a.get("line") or a["id"]) is None]
        failed = []
        for url, answer in zip(peers, answers, strict=True):
            if answer is None:
                failed.append(url)
                merged += [a for a in local if self.owner_of(a.get("line") or a["id"]) == url]
            else:
                merged += [a for a in answer if self.owner_of(a.get("line") or a["id"]) == url]
        order = {a["id"]: i for i, a in enumerate(local)}  # the plant model's order, as a single instance gives
        merged.sort(key=lambda a: order.get(a["id"], len(order)))
        extra = [(PARTIAL_HEADER.encode(), " ".join(failed).encode())] if failed else []
        await _respond(send, 200, orjson.dumps(merged), extra_headers=extra)

    async def _ask(self, url: str, scope: Scope) -> list[dict[str, Any]] | None:
        try:
            async with httpx.AsyncClient(timeout=self.partition.timeout_s) as client:
                r = await client.get(url + "/api/assets", params=scope["query_string"].decode(),
                                     headers=_forward_headers(scope))
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError):
            return None


def _has_header(scope: Scope, name: bytes) -> bool:
    return any(k.lower() == name for k, _ in scope["headers"])


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), None)


def _forward_headers(scope: Scope) -> dict[str, str]:
    out = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k.lower() in _FORWARDED}
    out[PEER_HEADER] = "1"
    return out


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _call_local(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status, headers, chunks = 500, [], []

    async def capture(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    return status, headers, b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, content_type: str = "application/json",
                   extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
               *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
