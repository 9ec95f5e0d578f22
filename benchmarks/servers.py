"""Debian's VictoriaMetrics and mosquitto on loopback, with their data in a folder, for benchmarks and tests.

Each can be stopped and started again on the same port and data, as a fault test needs.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import httpx
import orjson

from factory_twin.runtime import free_port


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, httpx.HTTPError):
            pass  # not up yet
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class _Server:
    exe_name = ""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        exe = shutil.which(self.exe_name) or shutil.which(self.exe_name, path="/usr/sbin:/usr/bin")
        if exe is None:
            raise RuntimeError(f"{self.exe_name} is not installed (apt-get install -y {self.package})")
        self.exe, self.workdir, self.port = exe, workdir, port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    package = ""

    def args(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return listening(self.port)

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"{self.exe_name}.log").open("ab")
        self.proc = subprocess.Popen([self.exe, *self.args()], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        proc = self.proc
        wait_for(lambda: proc.poll() is not None or self.ready(), 20, f"{self.exe_name} to be ready")
        if proc.poll() is not None:
            raise RuntimeError((self.workdir / f"{self.exe_name}.log").read_text()[-2000:])
        return self

    def stop(self) -> None:
        """SIGTERM: both save what they hold on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None


class VictoriaMetrics(_Server):
    """Accepts influxdb-client's /api/v2/write; no query latency offset, so every sample is visible at once.

    Deduplication is off: a sample written twice is stored twice and the export shows both, so benchmarks and
    tests see duplicates (InfluxDB would overwrite the point, and `-dedup.minScrapeInterval` would hide it).
    """

    exe_name, package = "victoria-metrics", "victoria-metrics"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        return [f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={self.workdir / 'data'}",
                "-search.latencyOffset=0s", "-retentionPeriod=100y", "-loggerLevel=ERROR"]

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/health", timeout=1).status_code == 200

    def export(self, match: str) -> list[tuple[dict[str, str], list[float], list[int]]]:
        """Every stored sample of the matching series (the export API shows all of them)."""
        r = httpx.get(f"{self.url}/api/v1/export", params={"match[]": match, "start": "0",
                                                             "end": str(int(time.time()) + 86_400 * 365 * 5)},
                      timeout=60)
        r.raise_for_status()
        return [(d["metric"], d["values"], d["timestamps"]) for d in map(orjson.loads, r.text.splitlines())]

    def count(self, match: str) -> int:
        return sum(len(values) for _, values, _ in self.export(match))

    def series_count(self, match: str, days: int = 2) -> int:
        """Samples of the matching series stamped in the last `days` (up to an hour ahead), from the TSDB's own
        count: cheaper than an export."""
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": f"sum(count_over_time({match}[{days}d]))",
                                                            "time": str(int(time.time()) + 3600)}, timeout=60)
        r.raise_for_status()
        result = r.json()["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0


class Mosquitto(_Server):
    """Persistent sessions and queued messages survive a restart; no limit on queued messages, unless
    `defaults` keeps mosquitto's own limits (20 messages in flight and 1,000 queued per client), as a broker
    installed with its defaults has them."""

    exe_name, package = "mosquitto", "mosquitto"

    def __init__(self, workdir: Path, port: int | None = None, *, defaults: bool = False) -> None:
        super().__init__(workdir, port)
        self.defaults = defaults

    def args(self) -> list[str]:
        conf = self.workdir / "mosquitto.conf"
        limits = "" if self.defaults else "max_queued_messages 0\nmax_inflight_messages 0\n"
        # run as root, mosquitto switches to the "mosquitto" user, which may not write the folder: its sessions
        # would then not survive a restart (it says so only in its log)
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                        f"persistence_location {self.workdir}/\n{limits}user {getpass.getuser()}\n")
        return ["-c", str(conf)]

    def version(self) -> str:
        out = subprocess.run([self.exe, "-h"], capture_output=True, text=True).stdout
        return out.splitlines()[0].removeprefix("mosquitto version ").strip() if out else ""
