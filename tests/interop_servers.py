"""Software the project did not write, run as test fixtures: a node-opcua server and Eclipse Tahu's Sparkplug
client (tests/interop, npm). Each runs as a child process driven over stdin with one JSON command a line and
answering with one JSON line; tests/interop/README.md lists the nodes, metrics and commands."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import PROJECT, free_port

INTEROP = PROJECT / "tests" / "interop"
_installed = False


def node_exe() -> str:
    """node, with the fixtures' npm packages installed (`npm ci` once, when node_modules is missing or stale)."""
    global _installed
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are not installed (apt-get install -y nodejs npm); the interoperability tests "
                    "run node-opcua and Eclipse Tahu's Sparkplug client from tests/interop")
    if not _installed:
        stamp = INTEROP / "node_modules" / ".package-lock.json"  # written by npm at the end of an install
        if not stamp.exists() or (INTEROP / "package-lock.json").stat().st_mtime > stamp.stat().st_mtime:
            done = subprocess.run([npm, "ci", "--prefix", str(INTEROP), "--no-audit", "--no-fund"],
                                  capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(f"npm ci --prefix tests/interop failed:\n{done.stderr[-3000:]}")
        _installed = True
    return node


class JsonLinesChild:
    """A node script that prints one JSON object a line; commands go to its stdin, answers come back in order."""

    def __init__(self, script: str, args: list[str], log: Path) -> None:
        self.script, self.args, self.log_path = script, args, log
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.events: list[dict[str, Any]] = []  # every line, answers and unprompted events alike
        self._lock = threading.Lock()

    def start(self, ready_timeout: float = 60.0) -> dict[str, Any]:
        """Start the script and return its ready line (node-opcua loads its nodesets first: seconds)."""
        self.lines = queue.Queue()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([node_exe(), str(INTEROP / self.script), *self.args], cwd=INTEROP,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                     encoding="utf-8", bufsize=1)
        log.close()
        threading.Thread(target=self._read, args=(self.proc,), daemon=True, name=f"{self.script}-out").start()
        return self.expect(lambda e: e.get("event") in ("ready", "error"), ready_timeout, "the ready line",
                           ok=lambda e: e.get("event") == "ready")

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "unparsed", "line": line.rstrip()}
            with self._lock:
                self.events.append(event)
            self.lines.put(event)
        proc.stdout.close()

    def expect(self, match: Any, timeout: float, what: str, ok: Any = None) -> dict[str, Any]:
        """The next line that `match`es (lines before it are skipped); fails with the child's stderr."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"timed out after {timeout:.0f} s waiting for {what}")
            try:
                event = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc is not None and self.proc.poll() is not None and self.lines.empty():
                    self._fail(f"{self.script} exited with {self.proc.returncode} while waiting for {what}")
                continue
            if match(event):
                if ok is not None and not ok(event):
                    self._fail(f"{what}: {event}")
                return event

    def _fail(self, message: str) -> None:
        err = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
        raise AssertionError(f"{message}\n--- {self.script} stderr ---\n{err}")

    def command(self, cmd: str, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        """Send one command and return its answer; fails when the child says it could not."""
        assert self.proc is not None and self.proc.stdin is not None, "not started"
        self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.proc.stdin.flush()
        answer = self.expect(lambda e: "ok" in e and e.get("cmd") == cmd, timeout, f"the answer to {cmd}")
        if not answer["ok"]:
            raise AssertionError(f"{self.script} refused {cmd} {fields}: {answer.get('error')}")
        return answer

    def seen(self, event: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("event") == event]

    def stop(self, timeout: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write('{"cmd": "stop"}\n')
                proc.stdin.close()
                proc.wait(timeout)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(10)
        elif proc.stdin is not None:
            proc.stdin.close()


class NodeOpcuaServer(JsonLinesChild):
    """tests/interop/opcua-server.js on a free loopback port.

    `pki`: keep the server's certificate in that folder (the same on every start); without it each start makes
    a new one. `secure`: offer only Basic256Sha256 / SignAndEncrypt.
    """

    def __init__(self, workdir: Path, port: int | None = None, pki: Path | None = None, secure: bool = False) -> None:
        self.port = port or free_port()
        args = ["--port", str(self.port), "--host", "127.0.0.1"]
        if pki is not None:
            args += ["--pki", str(pki)]
        if secure:
            args.append("--secure")
        super().__init__("opcua-server.js", args, workdir / f"node-opcua-{self.port}.log")
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}"
        self.ready: dict[str, Any] = {}

    def start(self, ready_timeout: float = 60.0) -> dict[str, Any]:
        self.ready = super().start(ready_timeout)
        return self.ready

    def restart(self) -> dict[str, Any]:
        """Stop and start again on the same port (a new certificate unless a PKI folder was given)."""
        self.stop()
        return self.start()

    @property
    def fingerprint(self) -> str:
        return str(self.ready["certificate_sha256"])

    @property
    def namespace(self) -> str:
        """The namespace URI of the plant's own nodes (machines, PackML unit, Line 1)."""
        return "urn:factory-twin:interop:plant"


class TahuEdgeNode(JsonLinesChild):
    """tests/interop/sparkplug-node.js: a Sparkplug B edge node with one device, on the given broker."""

    def __init__(self, workdir: Path, broker_port: int, group: str = "Line 1", node: str = "Gateway 1",
                 device: str = "Press 2") -> None:
        args = ["--broker", f"mqtt://127.0.0.1:{broker_port}", "--group", group, "--node", node, "--device", device,
                "--client-id", f"tahu-{os.getpid()}-{free_port()}"]
        super().__init__("sparkplug-node.js", args, workdir / f"tahu-{node.replace(' ', '_')}.log")
        self.group, self.node, self.device = group, node, device
