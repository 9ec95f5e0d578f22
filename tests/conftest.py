from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import free_port, port_open, wait_until

from plantmodel.mqtt import BrokerConfig


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerConfig]:
    """Debian's mosquitto on a free loopback port with its own temporary config."""
    exe = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)
    if exe is None:
        pytest.fail("mosquitto is not installed (apt-get install -y mosquitto); the README's test command does it")
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
