"""What a benchmark result needs beside its numbers to be read honestly: the commit, the library and server
versions, and how busy the machine was (load average before and after, cores)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("paho-mqtt", "mqtt5", "asyncua", "orjson", "influxdb-client", "httpx", "fastapi", "uvicorn", "amqtt",
             "numpy", "simpy")
SERVERS = {"mosquitto": ["mosquitto", "-h"], "victoria-metrics": ["victoria-metrics", "-version"],
           "influxd": ["influxd", "version"], "node": ["node", "--version"]}
PROJECT = Path(__file__).resolve().parent.parent


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    return [round(x, 2) for x in os.getloadavg()]


def commit() -> str | None:
    """The checkout's commit, with `-dirty` when files differ from it; None outside a git checkout."""
    if not (PROJECT / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        head = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(PROJECT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (head + ("-dirty" if dirty else "")) or None


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    for name, argv in SERVERS.items():
        exe = shutil.which(argv[0]) or shutil.which(argv[0], path="/usr/sbin:/usr/bin")
        if exe is None:
            continue
        try:
            done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (done.stdout or done.stderr).strip().splitlines() or _debian_version(name)
        if text:
            out[name] = text[0].strip()
    return out


def _debian_version(package: str) -> list[str]:
    """What dpkg says, for a server whose binary does not (Debian's victoria-metrics prints no version)."""
    if shutil.which("dpkg-query") is None:
        return []
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True,
                          timeout=10)
    return [f"{package} {done.stdout.strip()} (Debian)"] if done.returncode == 0 and done.stdout.strip() else []


def provenance(load_before: list[float] | None = None) -> dict[str, Any]:
    """Everything a result file carries about where and when it was measured."""
    return {"commit": commit(), "versions": versions(), "load_before": load_before, "load_after": load(),
            "cores": os.cpu_count(), "machine": platform.machine(), "system": platform.platform(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "argv": sys.argv[1:]}
