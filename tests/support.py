"""Helpers for tests: free ports, waiting on conditions with a deadline, child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import servers
from historian import Historian, SqliteHistorian
from historian.influx import InfluxHistorian

T = TypeVar("T")
PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"

# The twin's test credentials: the demo configuration's key variables, set for the whole test session (and
# inherited by child processes) by conftest.
API_KEYS = {"admin": "test-admin-key-0123456789", "engineer": "test-engineer-key-0123456789",
            "viewer": "test-viewer-key-0123456789"}
AUTH_ENV = {f"FT_{role.upper()}_KEY": key for role, key in API_KEYS.items()}
AUTH_ENV["FT_ENGINEER2_KEY"] = "test-engineer2-key-0123456789"  # the demo configuration's second engineer
AUTH_CONFIG = {"api_keys": [{"name": f"test-{role}", "role": role, "key_env": f"FT_{role.upper()}_KEY"}
                            for role in API_KEYS]}


def auth(role: str = "engineer") -> dict[str, str]:
    """Request headers of a caller with that role."""
    return {"Authorization": f"Bearer {API_KEYS[role]}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as exc:  # e.g. connection refused while a server starts
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class Child:
    """A factory-twin subcommand in its own process, its output kept in files for the test report."""

    def __init__(self, name: str, args: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.out = (workdir / f"{name}.out").open("wb")
        self.err_path = workdir / f"{name}.err"
        self.err = self.err_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "factory_twin", *args], cwd=workdir,
                                     stdout=self.out, stderr=self.err, env={**os.environ, **(env or {})})

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()
        return self.proc.returncode


def stop_all(children: list[Child], killed: Collection[str] = ()) -> None:
    """Stop every child, last started first, then fail naming each one that did not exit cleanly (except those the
    test `killed` itself). One that hangs must not leave the others running into later tests."""
    failures = []
    for child in reversed(children):
        code = child.stop()
        if code != 0 and child.name not in killed:
            failures.append(f"{child.name} exited with {code}:\n{child.stderr()[-3000:]}")
    assert not failures, "\n".join(failures)


class ServedApp:
    """An ASGI app served by the real HTTP server on a free loopback port, in a thread with its own loop."""

    def __init__(self, app: Any) -> None:
        import asyncio
        import threading

        from twin.server import serve_http

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._loop.run_until_complete(serve_http(app, "127.0.0.1", self.port, self._stop))
            except BaseException as exc:  # reported by __enter__ / __exit__
                self._error = exc

        self._thread = threading.Thread(target=run, name="served-app", daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        wait_until(lambda: port_open(self.port) or self._error is not None, 15, "the app to listen")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        self._loop.close()
        if self._error is not None:
            raise self._error


def mqtt_agent_yaml(tmp: Path, root: str, broker: int, health_port: int, fields: dict[str, str], sinks: list[str],
                    *, timestamp: str = "timestamp", telemetry_s: float = 0, extra: str = "",
                    protocol: str = "3.1.1") -> Path:
    """An agent config reading `<root>/<serial>/data` JSON messages (signal: field path) into `sinks`.

    Its assets are `<root>/plant/area/line/cell/<serial>`; its health is served on `health_port`.
    """
    path = tmp / "agent.yaml"
    mapped = "\n".join(f"          {signal}: {{{spec}}}" for signal, spec in fields.items())
    sink_lines = "\n".join(f"  - {s}" for s in sinks)
    path.write_text(f"""
name: {root}
data_dir: {tmp / "data"}
batch_size: 500
health: {{port: {health_port}, telemetry_interval_s: {telemetry_s}}}
{extra}
sources:
  - type: mqtt
    name: gauges
    broker: {{port: {broker}, protocol: "{protocol}"}}
    qos: 1
    clean_session: false
    subscriptions:
      - topic: {root}/{{serial}}/data
        asset: {root}/plant/area/line/cell/{{serial}}
        timestamp: {timestamp}
        fields:
{mapped}
sinks:
{sink_lines}
""")
    return path


def agent_health(port: int) -> dict[str, Any]:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()


class VictoriaMetrics(servers.VictoriaMetrics):
    def start(self) -> VictoriaMetrics:
        super().start()
        return self


class Mosquitto(servers.Mosquitto):
    def start(self) -> Mosquitto:
        super().start()
        return self


def history_store(tmp_path: Path, backend: str, request: Any) -> tuple[Historian, Any]:
    """A fresh store of that backend, and the twin's `history:` setting that reads it."""
    if backend == "sqlite":
        return SqliteHistorian(tmp_path / "history.db"), str(tmp_path / "history.db")
    server = request.getfixturevalue("influxdb")
    database = f"t{uuid.uuid4().hex[:12]}"
    server.create_database(database)
    return (InfluxHistorian(server.url, database, write_api="v1"),
            {"influxdb": {"url": server.url, "database": database, "write_api": "v1"}})


class StackMosquitto:
    """mosquitto with the compose stack's own config, ACL and users (edge, twin, device), on a free loopback
    port: only the paths and the listener are changed, the rights are as shipped."""

    def __init__(self, workdir: Path, passwords: dict[str, str]) -> None:
        import getpass
        import shutil

        self.workdir, self.port = workdir, free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for i, (user, password) in enumerate(passwords.items()):
            subprocess.run([tool, *(["-c"] if i == 0 else []), "-b", str(workdir / "passwd"), user, password],
                           check=True)
        conf = (PROJECT / "configs" / "mosquitto" / "mosquitto.conf").read_text()
        conf = (conf.replace("/mosquitto/data/passwd", str(workdir / "passwd"))
                .replace("/mosquitto/config/acl", str(PROJECT / "configs" / "mosquitto" / "acl"))
                .replace("/mosquitto/data/", f"{workdir}/").replace("listener 1883", f"listener {self.port} 127.0.0.1"))
        # as root mosquitto would switch to the "mosquitto" user, which cannot read the temporary folder
        (workdir / "mosquitto.conf").write_text(conf + f"user {getpass.getuser()}\n")
        self.exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> StackMosquitto:
        with (self.workdir / "log").open("ab") as log:
            self.proc = subprocess.Popen([self.exe, "-c", str(self.workdir / "mosquitto.conf")], stdout=log,
                                         stderr=subprocess.STDOUT)
        proc = self.proc
        wait_until(lambda: port_open(self.port) or proc.poll() is not None, 10, "mosquitto to listen")
        assert proc.poll() is None, (self.workdir / "log").read_text()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
