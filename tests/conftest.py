from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from interop_servers import NodeOpcuaServer, TahuEdgeNode
from support import AUTH_ENV, VictoriaMetrics, free_port, port_open, wait_until

from benchmarks.influxd import Influxd, influxd_executable, running_influxd
from plantmodel.mqtt import BrokerConfig

os.environ.update(AUTH_ENV)  # the twin's API keys, for apps built here and for child processes


def _mosquitto_exe() -> str:
    exe = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)
    if exe is None:
        pytest.fail("mosquitto is not installed (apt-get install -y mosquitto); the README's test command does it")
    return exe


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerConfig]:
    """Debian's mosquitto on a free loopback port with its own temporary config."""
    exe = _mosquitto_exe()
    workdir = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    log = (workdir / "mosquitto.log").open("wb")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, 10, "mosquitto to listen")
        assert proc.poll() is None, (workdir / "mosquitto.log").read_text()
        yield BrokerConfig(port=port)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """Debian's InfluxDB 1.6 (InfluxQL at /query, line protocol at /write) on a free loopback port."""
    if influxd_executable() is None:
        pytest.fail("influxd is not installed (apt-get install -y influxdb); the README's test command does it")
    with running_influxd(tmp_path_factory.mktemp("influxdb")) as server:
        yield server


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's VictoriaMetrics, which accepts influxdb-client's /api/v2/write; its base URL."""
    if shutil.which("victoria-metrics") is None:
        pytest.fail("victoria-metrics is not installed (apt-get install -y victoria-metrics)")
    vm = VictoriaMetrics(tmp_path_factory.mktemp("victoria-metrics")).start()
    try:
        yield vm.url
    finally:
        vm.stop()


MQTT_TEST_PASSWORD_ENV = "FT_TEST_MQTT_PASSWORD"


@pytest.fixture(scope="session")
def mosquitto_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerConfig]:
    """mosquitto with TLS only, a client certificate required and a password file; the password in the env."""
    from tls_certs import make_pki

    exe = _mosquitto_exe()
    workdir = tmp_path_factory.mktemp("mosquitto-tls")
    pki = make_pki(workdir)
    passwd = workdir / "passwd"
    passwd.write_text("edge:edge-secret\n")
    subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-U", str(passwd)], check=True)
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\ncafile {pki['ca']}\ncertfile {pki['server']}\n"
                    f"keyfile {pki['server_key']}\nrequire_certificate true\nallow_anonymous false\n"
                    f"password_file {passwd}\npersistence false\n"
                    f"user {getpass.getuser()}\n")  # as root it would switch to "mosquitto" and not read the temp dir
    log = (workdir / "mosquitto.log").open("wb")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    os.environ[MQTT_TEST_PASSWORD_ENV] = "edge-secret"
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, 10, "mosquitto (TLS) to listen")
        assert proc.poll() is None, (workdir / "mosquitto.log").read_text()
        yield BrokerConfig(port=port, tls=True, ca_file=str(pki["ca"]), cert_file=str(pki["client"]),
                           key_file=str(pki["client_key"]), username="edge", password_env=MQTT_TEST_PASSWORD_ENV)
    finally:
        os.environ.pop(MQTT_TEST_PASSWORD_ENV, None)
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def node_opcua(tmp_path: Path) -> Iterator[Callable[..., NodeOpcuaServer]]:
    """Start node-opcua servers (tests/interop/opcua-server.js) on free loopback ports; all stop at the end."""
    started: list[NodeOpcuaServer] = []

    def start(**options: Any) -> NodeOpcuaServer:
        server = NodeOpcuaServer(tmp_path, **options)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def tahu_edge_node(tmp_path: Path, mosquitto: BrokerConfig) -> Iterator[Callable[..., TahuEdgeNode]]:
    """Start Eclipse Tahu Sparkplug B edge nodes (tests/interop/sparkplug-node.js) on the test broker."""
    started: list[TahuEdgeNode] = []

    def start(**options: Any) -> TahuEdgeNode:
        node = TahuEdgeNode(tmp_path, mosquitto.port, **options)
        started.append(node)
        node.start()
        return node

    try:
        yield start
    finally:
        for node in started:
            node.stop()
