"""The OPC-UA source against a real asyncua server: discovery, quality, deadband, restarts and renumbering."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from asyncua import Client, ua
from opcua_plant import MACHINE_TYPE, NS, Cable, Plant, until
from support import PROJECT, free_port

from edge_agent.config import agent_config_model
from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sources.opcua import GAP_STATUS, OpcUaSource, OpcUaSourceConfig
from edge_agent.sources.opcua_tags import browse
from plantmodel.config import load_config
from plantmodel.telemetry import Quality, Sample

M1 = "acme/line1/m1"
STEPS = [1.0, 2.0, 10.0, 11.0, 30.0, 31.0]


class Harness:
    """An OPC-UA source running in the test's loop, collecting what it emits."""

    def __init__(self, tmp_path: Path, **config: Any) -> None:
        self.samples: list[Sample] = []
        self.quarantine = Quarantine(tmp_path / "q.db")
        cfg = OpcUaSourceConfig.model_validate({"type": "opcua", "name": "plc", **config})
        self.source = OpcUaSource(cfg, PluginContext("edge", tmp_path, self.emit, self.quarantine))
        self.task: asyncio.Task[None] | None = None

    def emit(self, samples: list[Sample], committed: Callable[[], None] | None = None, source: str = "") -> None:
        """The agent's `Emit`: keeps the samples."""
        self.samples.extend(samples)

    def values(self, asset: str, signal: str, quality: Quality | None = Quality.GOOD) -> list[Any]:
        return [s.value for s in self.samples if (s.asset, s.signal) == (asset, signal)
                and (quality is None or s.quality == quality)]

    async def __aenter__(self) -> Harness:
        self.task = asyncio.create_task(self.source.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.quarantine.close()


async def cli(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "factory_twin", *args, cwd=PROJECT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    return stdout.decode()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_browse_maps_every_variable_with_units_and_namespace_uris() -> None:
    async def scenario() -> None:
        plant = Plant(free_port())
        await plant.start(extra_namespaces=["urn:test:first"])
        try:
            async with Client(plant.endpoint) as client:
                tags = {(t.asset, t.signal): t for t in await browse(client, "acme")}
                typed = {(t.asset, t.signal) for t in await browse(client, None, [MACHINE_TYPE])}
        finally:
            await plant.stop()
        assert set(tags) == {(f"acme/line1/{m}", s) for m in ("m1", "m2") for s in ("speed", "count")} | {
            (f"acme/line1/{m}/spindle", "temp") for m in ("m1", "m2")}
        assert tags[(M1, "speed")].node == f"nsu={NS};s={M1}/speed"
        assert (tags[(M1, "speed")].unit, tags[(M1, "count")].unit, tags[(f"{M1}/spindle", "temp")].unit) == (
            "rpm", "", "°C")  # the server says degC
        # by ObjectType: each instance is an asset, nested variables keep their relative browse path
        assert typed == {(f"acme/line1/{m}", s) for m in ("m1", "m2") for s in ("speed", "count", "spindle.temp")}

    run(scenario)


def test_discover_cli_writes_a_tag_file_the_agent_config_loads(tmp_path: Path) -> None:
    out = tmp_path / "plc-tags.yaml"

    async def scenario() -> None:
        plant = Plant(free_port())
        await plant.start()
        try:
            stdout = await cli("edge", "discover", plant.endpoint, "--root", "acme/line1", "--out", str(out))
            assert "6 variables" in stdout
        finally:
            await plant.stop()

    run(scenario)
    assert out.read_text().startswith("# 6 variables discovered on opc.tcp://")
    assert len(yaml.safe_load(out.read_text())["tags"]) == 6
    agent = tmp_path / "edge.yaml"
    agent.write_text(yaml.safe_dump({
        "name": "edge", "data_dir": str(tmp_path / "data"),
        "sources": [{"type": "opcua", "name": "plc", "endpoint": "opc.tcp://127.0.0.1:4840/", "tags_file": str(out)}],
        "sinks": [{"type": "historian", "name": "h", "path": str(tmp_path / "h.db")}]}))
    cfg = load_config(agent, agent_config_model())
    tags = cfg.sources[0].configured_tags()
    # units come out in the namespace's one spelling (the server says degC)
    assert {(t.asset, t.signal, t.unit) for t in tags} >= {(M1, "speed", "rpm"), (f"{M1}/spindle", "temp", "°C")}


def test_values_carry_status_code_timestamps_and_split_across_subscriptions_and_connections(tmp_path: Path) -> None:
    async def scenario() -> None:
        plant = Plant(free_port())
        await plant.start()
        h = Harness(tmp_path, endpoint=plant.endpoint, root="acme", max_items_per_subscription=2,
                    max_subscriptions_per_connection=2)
        try:
            async with h:
                await until(h.source.ready.is_set, 15, "the source to subscribe")
                assert len(h.source.connections) == 2  # 6 variables, 4 per connection
                assert sum(len(c.subscriptions) for c in h.source.connections) == 3
                ts = await plant.write(f"{M1}/speed", 1500.0)
                await plant.write("acme/line1/m2/spindle/temp", 81.5)
                await plant.write(f"{M1}/speed", 1490.0, status=ua.StatusCodes.UncertainLastUsableValue)
                await until(lambda: 1490.0 in h.values(M1, "speed", Quality.UNCERTAIN), 10, "the uncertain value")
                await until(lambda: 81.5 in h.values("acme/line1/m2/spindle", "temp"), 10, "m2's temperature")
        finally:
            await plant.stop()
        good = next(s for s in h.samples if s.signal == "speed" and s.value == 1500.0)
        assert good.ts == ts and good.server_ts is not None and good.status == 0 and good.unit == "rpm"
        uncertain = next(s for s in h.samples if s.signal == "speed" and s.value == 1490.0)
        assert uncertain.status == ua.StatusCodes.UncertainLastUsableValue

    run(scenario)


def test_absolute_deadband_reduces_notifications(tmp_path: Path) -> None:
    async def scenario() -> None:
        plant = Plant(free_port())
        await plant.start()
        tags = [{"node": f"nsu={NS};s=acme/line1/m1/speed", "asset": M1, "signal": "speed",
                 "deadband": {"type": "absolute", "value": 5}},
                {"node": f"nsu={NS};s=acme/line1/m2/speed", "asset": "acme/line1/m2", "signal": "speed"}]
        h = Harness(tmp_path, endpoint=plant.endpoint, tags=tags, publishing_interval_ms=20)
        try:
            async with h:
                await until(h.source.ready.is_set, 15, "the source to subscribe")
                for v in STEPS:  # moves of 1 stay inside a deadband of 5 whether the server compares with the
                    await plant.write(f"{M1}/speed", v)  # last sampled or the last reported value
                    await plant.write("acme/line1/m2/speed", v)
                await until(lambda: 31.0 in h.values("acme/line1/m2", "speed"), 10, "the last value without deadband")
                await until(lambda: 30.0 in h.values(M1, "speed"), 10, "the last value past the deadband")
        finally:
            await plant.stop()
        assert h.values("acme/line1/m2", "speed") == [0.0, *STEPS]
        assert h.values(M1, "speed") == [0.0, 10.0, 30.0]

    run(scenario)


@pytest.mark.parametrize("renumber", [False, True], ids=["same-namespaces", "renumbered-namespaces"])
def test_server_restart_marks_the_gap_then_values_flow_again(tmp_path: Path, renumber: bool) -> None:
    async def scenario() -> None:
        plant = Plant(free_port())
        await plant.start()
        h = Harness(tmp_path, endpoint=plant.endpoint, root="acme", watchdog_s=0.5, reconnect_max_s=2)
        try:
            async with h:
                await until(h.source.ready.is_set, 15, "the source to subscribe")
                await plant.write(f"{M1}/speed", 1200.0)
                await until(lambda: 1200.0 in h.values(M1, "speed"), 10, "the first value")
                await plant.stop()
                gap = await until(lambda: [s for s in h.samples if s.quality == Quality.BAD and s.signal == "speed"
                                           and s.asset == M1], 15, "the gap to be marked")
                assert gap[0].value == 1200.0 and gap[0].status == GAP_STATUS
                assert not h.source.connected
                await plant.start(extra_namespaces=["urn:test:renumbers", "urn:test:again"] if renumber else [])
                await until(lambda: h.source.connected, 20, "the source to reconnect")
                await until(lambda: 0.0 in h.values(M1, "speed")[1:], 10, "the restarted server's initial value")
                await plant.write(f"{M1}/speed", 1300.0)
                await until(lambda: 1300.0 in h.values(M1, "speed"), 10, "a value after the restart")
        finally:
            await plant.stop()
        assert h.values(M1, "speed") == [0.0, 1200.0, 0.0, 1300.0]
        assert sum(c.gaps for c in h.source.connections) == 1

    run(scenario)


async def _server_certificate(folder: Path) -> tuple[Path, Path]:
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    cert, key = folder / "server.der", folder / "server-key.pem"
    await setup_self_signed_certificate(key, cert, "urn:freeopcua:python:server", "127.0.0.1",
                                        [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "test plc"})
    return cert, key


@pytest.mark.parametrize(("policy", "mode"), [("Basic256Sha256", "SignAndEncrypt"), ("Aes256_Sha256_RsaPss", "Sign")])
def test_secured_endpoint_refuses_an_untrusted_server_then_works_once_trusted(
        tmp_path: Path, policy: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_agent.sources.opcua_pki import TrustList

    monkeypatch.setenv("FT_TEST_OPCUA_PASSWORD", "s3cret")
    pki = tmp_path / "pki"
    (tmp_path / "server").mkdir()

    async def scenario() -> None:
        cert, key = await _server_certificate(tmp_path / "server")
        plant = Plant(free_port())
        await plant.start(cert=cert, key=key, users=True)
        h = Harness(tmp_path, endpoint=plant.endpoint, root="acme", security={"policy": policy, "mode": mode},
                    pki_dir=str(pki), username="edge", password_env="FT_TEST_OPCUA_PASSWORD", reconnect_max_s=1)
        try:
            async with h:
                await until(lambda: h.source.last_error and "not trusted" in h.source.last_error, 15,
                            "the untrusted server to be refused")
                assert "factory-twin edge certs trust" in h.source.last_error
                assert not h.samples and not h.source.connected
                assert (pki / "own" / "cert.der").exists()  # the agent's certificate, made on first run
                (refused,) = TrustList(pki).entries()
                assert refused.status == "rejected" and refused.fingerprint in h.source.last_error
                listed = await cli("edge", "certs", "list", "--pki", str(pki))
                assert f"rejected  {refused.fingerprint}" in listed and "test plc" in listed
                await cli("edge", "certs", "trust", refused.fingerprint[:12], "--pki", str(pki))
                assert [e.status for e in TrustList(pki).entries()] == ["trusted"]
                await until(h.source.ready.is_set, 20, "the source to connect once the server is trusted")
                await plant.write(f"{M1}/speed", 1000.0)
                await until(lambda: 1000.0 in h.values(M1, "speed"), 10, "a value over the secured channel")
        finally:
            await plant.stop()

    run(scenario)


def test_a_wrong_password_is_refused_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_TEST_OPCUA_PASSWORD", "wrong")

    async def scenario() -> None:
        plant = Plant(free_port())
        await plant.start(users=True)
        h = Harness(tmp_path, endpoint=plant.endpoint, root="acme", username="edge",
                    password_env="FT_TEST_OPCUA_PASSWORD")
        h2 = Harness(tmp_path / "unset", endpoint=plant.endpoint, root="acme", username="edge",
                     password_env="FT_TEST_UNSET_PASSWORD")
        try:
            async with h, h2:
                await until(lambda: h.source.last_error and "BadUserAccessDenied" in h.source.last_error, 15,
                            "the wrong password to be refused")
                await until(lambda: h2.source.last_error and "FT_TEST_UNSET_PASSWORD" in h2.source.last_error, 15,
                            "the missing password variable to be named")
                assert not h.samples and not h2.samples
        finally:
            await plant.stop()

    run(scenario)


def test_network_loss_is_detected_by_the_watchdog_and_the_session_resumes(tmp_path: Path) -> None:
    async def scenario() -> None:
        plant = Plant(free_port())
        await plant.start()
        cable = Cable(plant.port, free_port())
        await cable.start()
        h = Harness(tmp_path, endpoint=f"opc.tcp://127.0.0.1:{cable.port}/test/", root="acme", watchdog_s=0.5,
                    timeout_s=2, reconnect_max_s=2)
        try:
            async with h:
                await until(h.source.ready.is_set, 15, "the source to subscribe")
                await plant.write(f"{M1}/speed", 700.0)
                await until(lambda: 700.0 in h.values(M1, "speed"), 10, "the first value")
                cable.unplug()  # nothing is closed: only the watchdog's probe can notice
                await until(lambda: h.values(M1, "speed", Quality.BAD) == [700.0], 15, "the gap to be marked")
                await plant.write(f"{M1}/speed", 710.0)  # while the cable is out: the server keeps it queued
                cable.plug()
                await until(lambda: h.source.connected, 20, "the source to reconnect")
                await plant.write(f"{M1}/speed", 720.0)
                await until(lambda: 720.0 in h.values(M1, "speed"), 10, "a value after the cable is back")
        finally:
            await cable.stop()
            await plant.stop()
        assert sum(c.gaps for c in h.source.connections) == 1
        # asyncua resumed the session: the change made while the cable was out arrives, nothing is resent
        assert h.values(M1, "speed", None) == [0.0, 700.0, 700.0, 710.0, 720.0]

    run(scenario)
