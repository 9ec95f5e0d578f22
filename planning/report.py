"""The planner's report of a set of replications: line KPIs and per-station shares with 95 % intervals.

Bottleneck by the active-period method (Roser, Nakano & Tanaka 2001, the average variant): a station is
active while producing, down or changing over, and inactive while starved, blocked or in a planned stop;
the station whose active periods last longest on average constrains the line most. Each replication
names one; the report gives the station named most often and how often each was named.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from planning.station_oee import station_oee
from plantmodel.telemetry import AssetState
from simulators.flow.estimate import mean_ci

STATES = [str(s) for s in AssetState if s is not AssetState.UNKNOWN]


def _kpis(station: dict[str, Any]) -> dict[str, float]:
    times = station["time_s"]
    total = sum(times.values())
    produced = station["good"] + station["scrap"] + station["rework"]
    kpis = station_oee(times, station["ideal_cycle_s"], produced, station["good"])
    kpis["utilisation"] = times.get("producing", 0.0) / total if total else 0.0
    for state in STATES:
        kpis[f"share_{state}"] = times.get(state, 0.0) / total if total else 0.0
    return kpis


def report(results: Sequence[dict[str, Any]], *, hours: float, seed: int) -> dict[str, Any]:
    n = len(results)
    out: dict[str, Any] = {
        "replications": n, "hours": hours, "seed": seed,
        "throughput_per_hour": mean_ci([r["throughput_per_hour"] for r in results]),
    }
    wip = mean_ci([r["wip_mean"] for r in results])
    lead = mean_ci([r["flow_time_mean_s"] for r in results])
    good_lead = mean_ci([r.get("good_flow_time_mean_s", r["flow_time_mean_s"]) for r in results])
    departures = mean_ci([r["departures_per_s"] * 3600 for r in results])
    out |= {"wip_mean": wip["mean"], "wip_ci95": wip["ci95"],
            "lead_time_mean_s": lead["mean"], "lead_time_ci95_s": lead["ci95"],
            "good_lead_time_mean_s": good_lead["mean"], "good_lead_time_ci95_s": good_lead["ci95"],
            "departures_per_hour": departures,
            "good_parts_mean": sum(r["good"] for r in results) / n,
            "scrap_parts_mean": sum(r["scrap"] for r in results) / n,
            "joined_parts_mean": sum(r.get("joined", 0) for r in results) / n,
            "lost_arrivals": mean_ci([r["lost"] for r in results]),
            "lost_arrivals_mean": sum(r["lost"] for r in results) / n,
            "loss_probability": mean_ci([r.get("loss_probability", 0.0) for r in results]),
            "queue_wait_s": mean_ci([r.get("queue_wait_mean_s", 0.0) for r in results])}
    # WIP and lead time count the same parts from the same instants (simulators/flow/parts.py), so
    # L = (parts ended per second) x (lead time): the identity stated with the report's own figures.
    out["littles_law"] = {
        "wip_mean": wip["mean"],
        "departures_x_lead_time": sum(r["departures_per_s"] * r["flow_time_mean_s"] for r in results) / n,
    }
    out["littles_law"]["rel_gap"] = (abs(out["littles_law"]["wip_mean"] - out["littles_law"]["departures_x_lead_time"])
                                     / wip["mean"] if wip["mean"] else 0.0)
    # Little's law, L = lambda * W, per replication: the largest relative gap is a cheap sanity check.
    gaps = [abs(r["wip_mean"] - r["departures_per_s"] * r["flow_time_mean_s"]) / r["wip_mean"]
            for r in results if r["wip_mean"] > 0]
    out["littles_law_max_rel_gap"] = max(gaps, default=0.0)
    # ... which is bounded by the parts straddling the window's ends (large when a shift ends with a full line)
    out["littles_law_max_rel_edge"] = max((r["littles_edge_s"] / r["wip_area_s"] for r in results
                                           if r["wip_area_s"] > 0), default=0.0)
    stations: dict[str, Any] = {}
    for sid in results[0]["stations"]:
        per = [_kpis(r["stations"][sid]) for r in results]
        first = results[0]["stations"][sid]
        entry: dict[str, Any] = {"type": first["type"], "parallel": first["parallel"]}
        for key in ("utilisation", "availability", "performance", "quality", "oee"):
            entry[key] = sum(p[key] for p in per) / n
        entry["oee_ci95"] = mean_ci([p["oee"] for p in per])["ci95"]
        entry["states"] = {s: sum(p[f"share_{s}"] for p in per) / n for s in STATES}
        for key in ("good", "scrap", "rework", "failures"):
            entry[key] = sum(r["stations"][sid][key] for r in results) / n
        entry["active_period_mean_s"] = sum(r["stations"][sid]["active_period_mean_s"] for r in results) / n
        stations[sid] = entry
    out["stations"] = stations
    out["buffers"] = _buffers(results)
    votes = Counter(_bottleneck(r) for r in results)
    out["bottleneck"] = {
        "station": votes.most_common(1)[0][0],
        "method": "average active period (Roser 2001): longest mean uninterrupted producing/down/setup period",
        "share_of_replications": {s: c / n for s, c in votes.most_common()},
    }
    return out


def _bottleneck(result: dict[str, Any]) -> str:
    """The station one replication names: the longest average active period."""
    stations: dict[str, dict[str, Any]] = result["stations"]
    return max(stations, key=lambda s: stations[s]["active_period_mean_s"])


def _buffers(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per buffer (and hand-over, entry queue): mean level, queue wait and blocking probability, with CIs."""
    out: dict[str, Any] = {}
    for name in results[0].get("buffers", {}):
        per = [r["buffers"][name] for r in results]
        out[name] = {
            "level_mean": sum(b["level_mean"] for b in per) / len(per),
            "wait_mean_s": mean_ci([b["wait_sum_s"] / b["taken"] if b["taken"] else 0.0 for b in per]),
            "blocking_probability": mean_ci([b["blocked"] / b["offered"] if b["offered"] else 0.0 for b in per]),
        }
    return out


def _ci(est: dict[str, Any], fmt: str = ".2f") -> str:
    return f"{est['mean']:{fmt}} ({est['ci95'][0]:{fmt}} .. {est['ci95'][1]:{fmt}})"


def table(rep: dict[str, Any]) -> str:
    tp = rep["throughput_per_hour"]
    lines = [
        f"{rep['replications']} replications x {rep['hours']} h, seed {rep['seed']}",
        f"throughput   {tp['mean']:.2f} parts/h  (95 % CI {tp['ci95'][0]:.2f} .. {tp['ci95'][1]:.2f})",
        f"WIP          {rep['wip_mean']:.2f} parts   lead time {rep['lead_time_mean_s'] / 60:.1f} min   "
        f"(Little: {rep['departures_per_hour']['mean']:.2f} parts ended/h x lead time = "
        f"{rep['littles_law']['departures_x_lead_time']:.2f})",
        f"queue wait   {_ci(rep['queue_wait_s'], '.1f')} s per part",
        f"lost         {_ci(rep['lost_arrivals'], '.1f')} arrivals  (loss probability "
        f"{_ci(rep['loss_probability'], '.3f')})",
        f"bottleneck   {rep['bottleneck']['station']}  ({rep['bottleneck']['method']})",
        "",
        f"{'station':<12}{'util':>7}{'avail':>7}{'perf':>7}{'qual':>7}{'OEE':>7}{'starved':>9}{'blocked':>9}"
        f"{'down':>7}{'setup':>7}{'planned':>9}",
    ]
    for sid, s in rep["stations"].items():
        st = s["states"]
        lines.append(f"{sid:<12}{s['utilisation']:>7.3f}{s['availability']:>7.3f}{s['performance']:>7.3f}"
                     f"{s['quality']:>7.3f}{s['oee']:>7.3f}{st['starved']:>9.3f}{st['blocked']:>9.3f}"
                     f"{st['down']:>7.3f}{st['setup']:>7.3f}{st['planned_stop']:>9.3f}")
    if rep.get("buffers"):
        lines += ["", f"{'buffer':<22}{'level':>7}{'wait s':>9}{'P(blocked)':>12}   95 % CI"]
        for name, b in rep["buffers"].items():
            p = b["blocking_probability"]
            lines.append(f"{name[:21]:<22}{b['level_mean']:>7.2f}{b['wait_mean_s']['mean']:>9.1f}{p['mean']:>12.3f}"
                         f"   {p['ci95'][0]:.3f} .. {p['ci95'][1]:.3f}")
    return "\n".join(lines)
