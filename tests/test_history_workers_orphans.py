"""The twin's historian-read workers end with the twin, however it ends: killed (SIGKILL, the OOM killer), it
must not leave processes behind on a machine where it is restarted for months."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVICE = """
import asyncio, sys
from twin.history_work import HeavyReads

async def main() -> None:
    reads = HeavyReads(2)
    await reads.warm()
    await asyncio.gather(*(reads.run(sum, [i]) for i in range(4)))  # both workers started
    print(" ".join(map(str, reads.pids())), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def _children(pid: int) -> set[int]:
    """Every process whose parent is `pid`, and theirs (the forkserver, its workers, the resource tracker)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_read_workers_end_when_the_twin_is_killed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SERVICE], stdout=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout is not None
        workers = {int(p) for p in proc.stdout.readline().split()}
        assert len(workers) == 2, "the service did not start its two workers"
        family = _children(proc.pid) | workers
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
    deadline = time.monotonic() + 60  # a bound on a hang, not a measure of speed
    while any(_alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p for p in family if _alive(p)]
    for p in left:  # a failing run leaves nothing behind either
        os.kill(p, signal.SIGKILL)
    assert not left, "processes outlived the twin that started them"
