"""Container health checks without curl in the image: `python -m factory_twin.probe URL | tcp://HOST:PORT`.

Exit 0 when an HTTP URL answers 200 (and, for a JSON body with a `status`, that status is "ok"), or when a
TCP port accepts a connection; 1 otherwise, with the reason on stderr. `--bearer-env NAME` sends the key in
that environment variable as a bearer token (the twin's /api/health needs a viewer key).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from urllib.parse import urlsplit

import httpx


def probe(target: str, bearer_env: str | None = None, timeout_s: float = 3.0) -> str | None:
    """None when healthy, else why not."""
    if target.startswith("tcp://"):
        where = urlsplit(target)
        try:
            with socket.create_connection((where.hostname or "127.0.0.1", where.port or 0), timeout_s):
                return None
        except OSError as exc:
            return f"{target}: {exc}"
    headers = {}
    if bearer_env:
        key = os.environ.get(bearer_env)
        if not key:
            return f"environment variable {bearer_env} is not set"
        headers["Authorization"] = f"Bearer {key}"
    try:
        r = httpx.get(target, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"{target}: {type(exc).__name__}: {exc}"
    if r.status_code != 200:
        return f"{target}: HTTP {r.status_code}"
    try:
        status = r.json().get("status", "ok")
    except (ValueError, AttributeError):
        status = "ok"
    return None if status == "ok" else f"{target}: status {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m factory_twin.probe", description=__doc__)
    parser.add_argument("target")
    parser.add_argument("--bearer-env")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    problem = probe(args.target, args.bearer_env, args.timeout)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
