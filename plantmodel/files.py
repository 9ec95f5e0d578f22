"""Files that hold plant data or secrets (databases, spools, quarantines, audit logs) are readable by their owner
only: on a shared host, another account must not read telemetry, API callers' names or the audit trail."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def private_file(path: Path | str) -> None:
    """Create `path` empty with mode 0600 if it does not exist, else take group and other permissions away.

    SQLite creates a database's -wal and -shm files with the database file's permissions, so calling this
    before the first connection keeps those private too.
    """
    if str(path) == ":memory:":
        return
    p = Path(path)
    try:
        fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        mode = p.stat().st_mode & 0o777
        if mode & 0o077:
            with contextlib.suppress(PermissionError):  # not ours to change: leave it, SQLite will still open it
                p.chmod(mode & 0o700)
        for suffix in ("-wal", "-shm", "-journal"):
            side = Path(f"{p}{suffix}")
            with contextlib.suppress(FileNotFoundError, PermissionError):
                if side.stat().st_mode & 0o077:
                    side.chmod(side.stat().st_mode & 0o700)
    else:
        os.close(fd)
