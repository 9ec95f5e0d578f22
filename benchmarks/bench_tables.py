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


def alarms_table(files: list[Path]) -> str:
    """One row per result file of `bench alarms`: the demo's alerts against the simulator's truth."""
    rows = ["| seeds | simulated days | alerts/h | false or nuisance per asset-day | recall (median delay) per "
            "fault type | unexplained in a restart's settling | escalated above the rule | floods | load before | "
            "commit | file |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    # in the order they were measured
    for r, path in sorted(((orjson.loads(p.read_bytes()), p) for p in files),
                          key=lambda rp: (rp[0].get("provenance", {}).get("measured_at", ""), rp[1].name)):
        recall = ", ".join(f"{kind.replace('_', ' ')} {r['recall'][kind]:.3f}"
                           + (f" ({r['delay_median_s'][kind]:.0f} s)" if r["delay_median_s"].get(kind) is not None
                              else "") for kind in r["recall"])
        seeds = ",".join(map(str, r["seeds"]))
        rows.append(f"| {seeds} | {r['simulated_hours'] / 24:.0f} | {r['alerts_per_hour']:.2f} | "
                    f"{r['false_per_asset_day']:.3f} | {recall} | {r['in_settling']} | {r['escalated_above_rule']} | "
                    f"{r['floods']} | {_load(r)} | {_commit(r)} | `{path.name}` |")
    return "\n".join(rows)


def historian_table(files: list[Path]) -> str:
    """`bench historian`: the UI's queries through the twin's reader, embedded store and InfluxDB side by side."""
    rows = ["| | embedded | InfluxDB 1.6 | load before | commit | file |", "|---|---|---|---|---|---|"]
    for path in files:
        r = orjson.loads(path.read_bytes())
        q, iq = r["queries_ms"], r.get("influxdb_queries_ms", {})
        rows_ = r["query_rows"]

        def ms(d: dict[str, float], key: str) -> str:
            return f"{d[key]:.1f} ms" if key in d else "—"

        tail = f"{_load(r)} | {_commit(r)} | `{path.name}` |"
        rows += [f"| insert | {r['insert_samples_per_s']:,} samples/s (agent's batches of 500: "
                 f"{r['insert_records_per_s_batches_of_500']:,} records/s) | "
                 f"{r.get('influxdb_insert_records_per_s', 0):,} records/s through `/write` | {tail}",
                 f"| one signal, a day in 1-minute windows, from raw samples | "
                 f"{ms(q, 'one_signal_day_1min_windows_from_raw')} | {ms(iq, 'one_signal_day_1min_windows')} | {tail}",
                 f"| the same from one-minute rollups | {ms(q, 'one_signal_day_1min_windows')} | (none) | {tail}",
                 f"| one asset, all signals, last hour raw ({rows_['asset_all_signals_last_hour_raw']:,} samples) | "
                 f"{ms(q, 'asset_all_signals_last_hour_raw')} | {ms(iq, 'asset_all_signals_last_hour_raw')} | {tail}",
                 f"| events of a shift ({rows_['events_of_a_shift']:,}) | {ms(q, 'events_of_a_shift')} | "
                 f"{ms(iq, 'events_of_a_shift')} | {tail}",
                 f"| load average (1 min) after the queries | {r.get('load_average_1m', '?')} | "
                 f"{r.get('load_average_1m_after', '?')} | {tail}"]
    return "\n".join(rows)


def reconnect_table(files: list[Path]) -> str:
    """`bench reconnect`: seconds until each client is back after the broker's outage, and what devices lost."""
    rows = ["| outage | backoff | agent's source back | agent's sink back | twin back | agent `ok` | "
            "QoS 0 device lost | QoS 1 device lost | load before | commit | file |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in files:
        r = orjson.loads(path.read_bytes())
        for name in ("now", "before"):
            b = r[f"backoff_{name}"]
            back, lost = b["reconnected_after_s"], b["lost_s"]

            def s(v: float | None) -> str:
                return "never" if v is None else f"{v:.2f} s"

            rows.append(f"| {r['outage_s']:g} s | {b['reconnect_min_s']:g} s doubling to {b['reconnect_max_s']:g} s"
                        f"{' (before)' if name == 'before' else ''} | {s(back['agent_source'])} | "
                        f"{s(back['agent_uns_sink'])} | {s(back['twin'])} | {s(back['agent_health_ok'])} | "
                        f"{lost['qos0']:.1f} s | {lost['qos1']:.1f} s | {_load(r)} | {_commit(r)} | `{path.name}` |")
    return "\n".join(rows)


TABLES = {"ingest": ingest_table, "opcua-ratio": opcua_ratio_table, "alarms": alarms_table,
          "historian": historian_table, "reconnect": reconnect_table}


def render(name: str, files: list[Path]) -> str:
    return TABLES[name](sorted(files))
