"""Markdown tables rendered from committed benchmark result files, so that the README quotes numbers that a
file in `docs/results/` holds, with its commit and load average, rather than numbers copied by hand.

    factory-twin bench table docs/results/ingest-*.json

The README holds each rendered table between ``<!-- results: NAME -->`` and ``<!-- /results -->``;
`tests/test_results_tables.py` checks that it is exactly what the files render.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


def _load(r: dict[str, Any]) -> str:
    before = r.get("load_before") or r.get("provenance", {}).get("load_before")
    return f"{before[0]:.2f}" if before else "?"


def _commit(r: dict[str, Any]) -> str:
    c = r.get("provenance", {}).get("commit") or "?"
    return c[:7] + ("-dirty" if c.endswith("-dirty") else "")


def _shape(r: dict[str, Any]) -> str:
    if r["source"] == "opcua":
        return f"OPC-UA, {r['variables']:,} variables"
    per = "1 value" if r["fields"] == 1 else f"{r['fields']} values"
    proto = f", MQTT {r['protocol']}" if r.get("protocol") else ""
    agents = f", {r['processes']} agents sharing" if r.get("processes", 1) > 1 else ""
    return f"MQTT QoS {r['qos']}, {per}/message, {r['topics']:,} topics{proto}{agents}"


def ingest_table(files: list[Path]) -> str:
    """One row per result file of `bench ingest`, in the order given."""
    rows = ["| traffic | offered/s | sent/s | loss | duplicates | stored samples/s | CPU-s | CPU µs/message | "
            "RSS MB | load before | commit | file |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in files:
        r = orjson.loads(path.read_bytes())
        if r["source"] == "opcua":
            offered, sent = f"{r['server_changes_per_s']:,.0f} changes", "—"
            per_msg = "—"
        else:
            offered, sent = f"{r['offered_msgs_per_s']:,.0f} msgs", f"{r['sent_msgs_per_s']:,.0f}"
            per_msg = f"{r['cpu_us_per_msg']:.1f}"
        loss = f"{r['loss_pct']:.2f} % ({r['missing']:,} of {r['produced']:,})"
        rows.append(f"| {_shape(r)} | {offered} | {sent} | {loss} | {r['duplicates']:,} | {r['samples_per_s']:,.0f} | "
                    f"{r['cpu_s']:.1f} | {per_msg} | {r['rss_mb']:.0f} | {_load(r)} | {_commit(r)} | "
                    f"`{path.name}` |")
    return "\n".join(rows)


def opcua_ratio_table(files: list[Path]) -> str:
    """The agent against a bare asyncua client on the same server, both counted over the server's active window."""
    rows = ["| variables | server changes/s (with agent) | agent stored/s | agent loss | bare client received/s | "
            "bare client loss | ratio | load before | file |", "|---|---|---|---|---|---|---|---|---|"]
    for path in files:
        r = orjson.loads(path.read_bytes())
        alone = r["server_alone"]
        rows.append(f"| {r['variables']:,} | {r['server_changes_per_s']:,.0f} | {r['samples_per_s']:,.0f} | "
                    f"{r['loss_pct']:.2f} % | {alone['received_per_s']:,.0f} | {alone['loss_pct']:.2f} % | "
                    f"{r['ratio']:.3f} | {_load(r)} | `{path.name}` |")
    return "\n".join(rows)


TABLES = {"ingest": ingest_table, "opcua-ratio": opcua_ratio_table}


def render(name: str, files: list[Path]) -> str:
    return TABLES[name](sorted(files))
