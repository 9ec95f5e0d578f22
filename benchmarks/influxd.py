"""Debian's InfluxDB 1.x (``influxd``) on loopback with its own config and data in a folder, for the
historian benchmark and the tests; stopped when the block exits."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from factory_twin.runtime import free_port

_CONFIG = """reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{dir}/meta"
  logging-enabled = false
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  pprof-enabled = false
  max-row-limit = 0
  max-body-size = 0
[logging]
  level = "warn"
  suppress-logo = true
"""


@dataclass(frozen=True)
class Influxd:
    url: str
    workdir: Path
    process: subprocess.Popen[bytes]

    def create_database(self, name: str) -> None:
        response = httpx.post(f"{self.url}/query", data={"q": f'CREATE DATABASE "{name}"'}, timeout=10)
        response.raise_for_status()


def influxd_executable() -> str | None:
    return shutil.which("influxd") or next((p for p in ("/usr/bin/influxd",) if Path(p).exists()), None)


@contextmanager
def running_influxd(workdir: Path, start_timeout_s: float = 30.0) -> Iterator[Influxd]:
    exe = influxd_executable()
    if exe is None:
        raise FileNotFoundError("influxd is not installed (Debian: apt-get install -y influxdb)")
    port = free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(_CONFIG.format(dir=workdir, port=port, rpc_port=free_port()))
    log = (workdir / "influxd.log").open("wb")
    proc = subprocess.Popen([exe, "-config", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while not _pings(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"influxd did not start: {(workdir / 'influxd.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield Influxd(url, workdir, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _pings(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ping", timeout=0.5).status_code == 204
    except httpx.HTTPError:
        return False
