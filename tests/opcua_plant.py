"""A small asyncua server for the OPC-UA source's tests: two machines of one ObjectType below a folder tree.

Objects/acme/line1/m1 and m2 (type MachineType) each hold ``speed`` (Double, EU rpm), ``count`` (Int64)
and an object ``spindle`` with ``temp`` (Double, EU degC); Objects/other holds ``x``, of no type.
`extra_namespaces` registers namespaces before the plant's, so a restart can renumber it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Server, ua

from simulators.opcua_server import stop_server

NS = "urn:test:plant"
MACHINE_TYPE = f"nsu={NS};s=MachineType"
USERS = {"edge": "s3cret"}


class Users:
    """Only the configured user gets in (asyncua's default lets anyone in)."""

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> Any:
        from asyncua.crypto.permission_rules import User, UserRole

        if username is None or USERS.get(username) != password:
            return None
        return User(role=UserRole.User)


class Plant:
    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/test/"
        self.server: Server | None = None
        self.idx = 0

    async def start(self, extra_namespaces: Sequence[str] = (), cert: Path | None = None, key: Path | None = None,
                    users: bool = False) -> None:
        server = Server(user_manager=Users()) if users else Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        if cert and key:
            await server.load_certificate(str(cert))
            await server.load_private_key(str(key))
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                                        ua.SecurityPolicyType.Basic256Sha256_Sign,
                                        ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
                                        ua.SecurityPolicyType.Aes256Sha256RsaPss_Sign])
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if users:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        for uri in extra_namespaces:
            await server.register_namespace(uri)
        idx = self.idx = await server.register_namespace(NS)
        mtype = await server.nodes.base_object_type.add_object_type(ua.NodeId("MachineType", idx), "MachineType")
        acme = await server.nodes.objects.add_folder(ua.NodeId("acme", idx), ua.QualifiedName("acme", idx))
        line = await acme.add_folder(ua.NodeId("acme/line1", idx), ua.QualifiedName("line1", idx))
        for m in ("m1", "m2"):
            path = f"acme/line1/{m}"
            obj = await line.add_object(ua.NodeId(path, idx), ua.QualifiedName(m, idx), objecttype=mtype.nodeid)
            speed = await obj.add_variable(ua.NodeId(f"{path}/speed", idx), ua.QualifiedName("speed", idx), 0.0)
            await _unit(speed, idx, "rpm")
            await obj.add_variable(ua.NodeId(f"{path}/count", idx), ua.QualifiedName("count", idx),
                                   ua.Variant(0, ua.VariantType.Int64))
            spindle = await obj.add_object(ua.NodeId(f"{path}/spindle", idx), ua.QualifiedName("spindle", idx))
            temp = await spindle.add_variable(ua.NodeId(f"{path}/spindle/temp", idx),
                                              ua.QualifiedName("temp", idx), 20.0)
            await _unit(temp, idx, "degC")
        other = await server.nodes.objects.add_object(ua.NodeId("other", idx), ua.QualifiedName("other", idx))
        await other.add_variable(ua.NodeId("other/x", idx), ua.QualifiedName("x", idx), 1.0)
        await server.start()
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            await stop_server(self.server)
            self.server = None

    async def write(self, path: str, value: float | int, status: int = ua.StatusCodes.Good,
                    ts: datetime | None = None) -> datetime:
        assert self.server is not None
        ts = ts or datetime.now(UTC)
        variant = ua.Variant(value, ua.VariantType.Int64 if isinstance(value, int) else ua.VariantType.Double)
        dv = ua.DataValue(variant, StatusCode=ua.StatusCode(status), SourceTimestamp=ts.replace(tzinfo=None),
                          ServerTimestamp=datetime.now(UTC).replace(tzinfo=None))
        await self.server.write_attribute_value(ua.NodeId(path, self.idx), dv)
        return ts


async def _unit(var: Any, idx: int, unit: str) -> None:
    await var.add_property(idx, "EngineeringUnits", ua.EUInformation(
        NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact", UnitId=-1,
        DisplayName=ua.LocalizedText(unit), Description=ua.LocalizedText(unit)))


async def until(condition: Any, within: float, what: str) -> Any:
    """The asyncio twin of support.wait_until: poll a condition with a deadline, never a bare sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


class Cable:
    """A TCP relay on loopback that can be unplugged: bytes stop flowing both ways, nothing is closed,
    as with a pulled cable or a dead switch; plugging it back drops the stalled links."""

    def __init__(self, target_port: int, port: int) -> None:
        self.target_port, self.port = target_port, port
        self.plugged = True
        self.links: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self.drop()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def unplug(self) -> None:
        self.plugged = False

    def plug(self) -> None:
        self.drop()
        self.plugged = True

    def drop(self) -> None:
        for writer in self.links:
            writer.transport.abort()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.links.append(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.links.append(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if self.plugged:
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
