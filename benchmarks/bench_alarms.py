"""`factory-twin bench alarms`: the alerts the live twin raises on the demo line, against the simulator's truth.

The live twin's own pipeline (benchmarks.sim_twin: simulator -> what goes on the wire -> the agent's events
-> the twin with the demo's configuration, `configs/twin-demo.yaml`) runs `days` of plant time per seed as
fast as it goes, with every fault the simulator injects (the demo plant's scheduled faults and its random
ones: bearing fault, coolant loss, sensor drift, stuck sensor, spikes), its breakdowns, tool changes, bearing
wear and restarts. An operator acknowledges each alert `ack_s` after it is annunciated (20 min by default:
later than the demo's escalation, so every alert left that long is escalated, and the escalations are checked
against the severity their rule allows).

The simulator's truth: its fault labels, every station's state (stops with their alarm codes, restarts), the
worn share of each spindle bearing, and tool changes. Each annunciation (an alert raised, or one more
occurrence of it) is then

- true: a signal rule (anomaly, threshold, SPC, RUL) on an asset inside one of its labelled faults (up to
  `tolerance_s` after it), or inside the worn end of a bearing's life (from `WEAR_SHARE`, the worn share at
  which it has moved one of the signals it drives by one noise σ of that sensor: the spindle's temperature,
  well before its vibration; annunciations true only because of the wear before the vibration's share are
  counted in `true_before_vibration_moved`, so the stricter reading can be had from the report); a
  machine alarm during a stop; a tool-life alert followed by the tool's change within `RUL_LEAD` times its
  horizon (an alert an hour and a half ahead of a change, for a half-hour horizon, is still a useful warning);
  an OEE-target alert, the first of its shift (a real figure under target);
- nuisance: a signal rule within `settle_s` of a restart (a machine warming up after a stop is not an anomaly),
  or while the machine stands still, or a repeated OEE-target alert in one shift;
- false: anything else.

Scored per fault type: recall (share of labels with an annunciation of a signal rule on their asset inside
them) and the median delay from the fault's start; a breakdown (a stop in state down longer than the
minor-stop limit) is found by a machine alarm. Labels that begin before `baseline_s` (the anomaly models are
still learning) are counted apart. Keys: `alerts_per_hour` (the whole line, what one operator sees),
`false_per_asset_day` (false and nuisance, per watched asset and day), `recall` and `delay_median_s` per fault
type, `missed_while_standing` (missed faults whose machine did not produce at any moment while they lasted:
the twin watches machines that produce), `missed_labels` (each miss: seed, fault, asset, signal, start hour,
length, whether an alert of its machine was already open), `in_settling` (signal-rule annunciations within a
restart's settling time that no fault explains), `escalated_above_rule`, `floods`.
"""

from __future__ import annotations

import fnmatch
import os
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from benchmarks.sim_twin import SimulatedTwin
from factory_twin.runtime import config_path
from plantmodel.catalog import AssetRole
from plantmodel.telemetry import Sample, from_micros, to_micros
from simulators.signals import CncSignals
from twin.alerting.config import Severity, max_severity
from twin.alerting.lifecycle import State
from twin.config import load_twin

ORIGIN_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z: a fixed plant clock, so a seed gives the same run
US = 1_000_000
BEARING_SHARES = CncSignals.bearing_share_by_signal()
WEAR_SHARE = min(BEARING_SHARES.values())  # from there a bearing's wear has moved a signal by a noise σ of its sensor
VIBRATION_SHARE = BEARING_SHARES["vibration_rms"]  # from there its vibration too
SIGNAL_RULES = ("anomaly", "sensor", "threshold", "spc", "rul")
STOPPED = ("down", "setup", "planned_stop")
STEP_S = 60.0  # how often the bearings' wear is read
RUL_LEAD = 3.0  # a remaining-life alert is right when the end of life follows within this many horizons


@dataclass
class Truth:
    labels: list[tuple[str, str, str, int, int]] = field(default_factory=list)  # asset, signal, kind, start, end
    stops: dict[str, list[tuple[int, int, str]]] = field(default_factory=lambda: defaultdict(list))
    producing: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    restarts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    wear: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))  # from WEAR_SHARE
    wear_vibration: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    tool_changes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    breakdowns: list[tuple[str, int]] = field(default_factory=list)


class Watcher:
    """Reads the simulator's truth from what it puts on the wire and from its model."""

    def __init__(self, run: SimulatedTwin) -> None:
        self.run, self.truth = run, Truth()
        self._state: dict[str, tuple[str, int]] = {}
        self._tool: dict[str, float] = {}
        # each wear reading: from its share on, into its spans
        self._limits = ((WEAR_SHARE, self.truth.wear), (VIBRATION_SHARE, self.truth.wear_vibration))
        self._worn: dict[tuple[str, int], int] = {}  # (asset, index in _limits) -> worn past that share since
        run.listeners.append(self.sample)

    def sample(self, s: Sample) -> None:
        t = to_micros(s.ts)
        if s.signal == "state" and isinstance(s.value, str):
            before = self._state.get(s.asset)
            if before is not None and before[0] == s.value:
                return
            if before is not None and before[0] == "producing":
                self.truth.producing[s.asset].append((before[1], t))
            if before is not None and before[0] in STOPPED:
                self.truth.stops[s.asset].append((before[1], t, before[0]))
                if s.value == "producing":
                    self.truth.restarts[s.asset].append(t)
            if s.value == "down":
                self.truth.breakdowns.append((s.asset, t))
            self._state[s.asset] = (s.value, t)
        elif s.signal == "tool_wear" and isinstance(s.value, int | float):
            if s.value < self._tool.get(s.asset, 0.0) - 50:
                self.truth.tool_changes[s.asset].append(t)
            self._tool[s.asset] = float(s.value)

    def read_wear(self) -> None:
        now = self.run.now_us()
        for model in self.run.models:
            for path, view in model.assets.items():
                share = max((c.health for c in getattr(view, "bearings", [])), default=0.0)
                for i, (limit, spans) in enumerate(self._limits):
                    key = (path, i)
                    if share >= limit and key not in self._worn:
                        self._worn[key] = now
                    elif share < limit and key in self._worn:
                        spans[path].append((self._worn.pop(key), now))

    def finish(self) -> Truth:
        now = self.run.now_us()
        for (path, i), since in self._worn.items():
            self._limits[i][1][path].append((since, now))
        for asset, (state, since) in self._state.items():
            if state in STOPPED:
                self.truth.stops[asset].append((since, now, state))
            elif state == "producing":
                self.truth.producing[asset].append((since, now))
        for model in self.run.models:
            self.truth.labels += [(lab.asset, lab.signal, lab.fault, model.ts_of(lab.start_s), model.ts_of(lab.end_s))
                                  for lab in model.labels if lab.start_s < self.run.t_s]
        return self.truth


def run_seed(seed: int, days: float, settle_s: float, tolerance_s: float, baseline_s: float,
             ack_s: float = 1200.0) -> dict[str, Any]:
    """One seed's run, scored: counts and the per-label detections (pooled over seeds by `score`)."""
    cfg, plant, calendar = load_twin(config_path("twin-demo.yaml"), {"FT_DATA_DIR": os.devnull})
    run = SimulatedTwin(plant, cfg, calendar, origin_us=ORIGIN_US, seed=seed, through_uns=False)
    engine = run.performance.alerts
    watcher = Watcher(run)
    seen: dict[int, int] = {}
    annunciations: list[dict[str, Any]] = []
    present: dict[int, int] = {}  # alert id -> since when its condition is present
    open_spans: dict[str, list[tuple[int, int]]] = defaultdict(list)  # asset -> signal rules' alerts present

    def changed(a: dict[str, Any]) -> None:
        if _kind(engine, a["rule"]) in SIGNAL_RULES:
            now_us = to_micros(run.clock.now())
            if a["condition"] and a["id"] not in present:
                present[a["id"]] = now_us
            elif not a["condition"] and a["id"] in present:
                open_spans[a["asset"]].append((present.pop(a["id"]), now_us))
        new = a["occurrences"] - seen.get(a["id"], 0)
        seen[a["id"]] = a["occurrences"]
        for _ in range(max(new, 0)):
            annunciations.append({"rule": a["rule"], "kind": _kind(engine, a["rule"]), "asset": a["asset"],
                                  "at": to_micros(run.clock.now()), "severity": a["severity"],
                                  "signals": a["detail"].get("signals", "")})

    engine.listeners.append(changed)
    t0 = time.perf_counter()
    end_s = days * 86_400
    while run.t_s < end_s:
        run.run_until(min(run.t_s + STEP_S, end_s))
        watcher.read_wear()
        now = run.clock.now()
        for a in list(engine.by_id.values()):  # the operator
            if not a.acked and a.state in (State.ACTIVE, State.CLEARED_UNACKED) and (
                    now - a.active_since).total_seconds() >= ack_s:
                engine.act(a.id, "ack", "operator")
    wall = time.perf_counter() - t0
    truth = watcher.finish()
    for alert_id, since in present.items():
        open_spans[engine.by_id[alert_id].asset if alert_id in engine.by_id else ""].append((since, run.now_us()))
    escalated = _escalated_above_rule(engine)
    watched = sorted({a.path for a in plant.assets() if a.role is not AssetRole.BUFFER
                      and any(_watches(r, a.path) for r in cfg.alerts.rules)})
    return {"seed": seed, "days": days, "wall_s": round(wall, 1), "samples_on_wire": run.on_wire,
            "rejected": len(run.rejected), "floods": engine.flood.floods,
            "suppressed": engine.flood.suppressed_total, "escalated_above_rule": escalated, "watched": watched,
            **judge(annunciations, truth, settle_s, tolerance_s, baseline_s, cfg, open_spans)}


def _breakdowns(truth: Truth, minor_stop_s: float) -> list[tuple[str, int]]:
    """Stops in state down lasting the minor-stop limit or more: what a machine alarm should be raised for."""
    return [(asset, s) for asset, stops in truth.stops.items() for s, e, k in stops
            if k == "down" and e - s >= minor_stop_s * US]


def _kind(engine: Any, rule: str) -> str:
    return str(engine.rules[rule].type)


def _watches(rule: Any, path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, g) for g in rule.assets)


def _escalated_above_rule(engine: Any) -> list[dict[str, Any]]:
    rows = engine.store.db.execute(
        "SELECT a.rule, a.asset, t.at, t.comment FROM alert_transitions t JOIN alert_alerts a ON a.id = t.alert_id "
        "WHERE t.action = 'escalate'").fetchall()
    out = []
    for rule, asset, at, comment in rows:
        if comment and "->" in comment:
            new = Severity[comment.rsplit("->", 1)[1].strip()]
            if new > max_severity(engine.rules[rule]):
                out.append({"rule": rule, "asset": asset, "at": from_micros(at).isoformat(), "severity": new.name})
    return out


def _inside(t: int, spans: Sequence[tuple[int, int]], after_us: int = 0) -> bool:
    return any(a <= t <= b + after_us for a, b in spans)


def judge(annunciations: list[dict[str, Any]], truth: Truth, settle_s: float, tolerance_s: float,
          baseline_s: float, cfg: Any, open_spans: dict[str, list[tuple[int, int]]] | None = None) -> dict[str, Any]:
    """Each annunciation true, nuisance or false; each label found or not (and whether a signal rule's alert on its
    asset was already present when it began, so that no new annunciation could mark it)."""
    open_spans = open_spans or {}
    tol, settle = round(tolerance_s * US), round(settle_s * US)
    first_scored = ORIGIN_US + round(baseline_s * US)
    horizon = {r.id: r.horizon_s for r in cfg.alerts.rules if r.type == "rul"}
    classes: Counter[str] = Counter()
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    oee_windows: set[tuple[str, str, int]] = set()
    in_settling = 0
    not_true: list[dict[str, Any]] = []
    early_wear: list[dict[str, Any]] = []  # true only for a wear not yet in the vibration
    for a in annunciations:
        asset, t, kind = a["asset"], a["at"], a["kind"]
        labels = [(s, e) for (la, _, _, s, e) in truth.labels if la == asset]
        stopped = [(s, e) for s, e, _ in truth.stops.get(asset, [])]
        settling = any(r <= t < r + settle for r in truth.restarts.get(asset, []))
        settling_alert = kind in ("anomaly", "sensor", "threshold", "spc") and settling
        if kind == "machine_alarm":
            verdict = "true" if _inside(t, stopped, tol) else "false"
        elif kind == "oee":
            key = (a["rule"], asset, (t - ORIGIN_US) // (8 * 3600 * US))  # the demo's shifts are 8 h
            verdict = "nuisance" if key in oee_windows else "true"
            oee_windows.add(key)
        elif kind == "rul":
            changes = truth.tool_changes.get(asset, [])
            h = round(RUL_LEAD * horizon.get(a["rule"], 1800) * US)
            verdict = "true" if any(t <= c <= t + h for c in changes) or _inside(t, labels, tol) else "false"
        elif (in_label := _inside(t, labels, tol)) or _inside(t, truth.wear.get(asset, []), tol):
            verdict = "true"
            if not in_label and not _inside(t, truth.wear_vibration.get(asset, []), tol):
                early_wear.append({"rule": a["rule"], "asset": asset.rsplit("/", 1)[-1],
                                   "hour": round((t - ORIGIN_US) / 3600 / US, 2), "settling": settling,
                                   "signals": a.get("signals", "")})
        elif settling:
            verdict = "nuisance"
        elif _inside(t, stopped):
            verdict = "nuisance"
        else:
            verdict = "false"
        classes[verdict] += 1
        by_rule[a["rule"]][verdict] += 1
        if verdict != "true":
            not_true.append({"rule": a["rule"], "asset": asset.rsplit("/", 1)[-1], "verdict": verdict,
                             "hour": round((t - ORIGIN_US) / 3600 / US, 2), "settling": settling,
                             "signals": a.get("signals", "")})
        in_settling += settling_alert and verdict != "true"
    detections: list[dict[str, Any]] = []
    for asset, signal, fault, start, end in truth.labels:
        hits = [a["at"] for a in annunciations if a["asset"] == asset and a["kind"] in SIGNAL_RULES
                and start <= a["at"] <= end + tol]
        detections.append({"asset": asset, "signal": signal, "fault": fault, "start": start, "end": end,
                           "scored": start >= first_scored,
                           "delay_s": (min(hits) - start) / US if hits else None,
                           "masked": any(a < start < b for a, b in open_spans.get(asset, [])),
                           "producing_s": sum(max(0, min(b, end) - max(a, start)) for a, b in
                                              truth.producing.get(asset, [])) / US})
    for asset, t in _breakdowns(truth, cfg.oee.minor_stop_s):
        hits = [a["at"] for a in annunciations if a["asset"] == asset and a["kind"] == "machine_alarm"
                and t <= a["at"] <= t + tol]
        detections.append({"asset": asset, "signal": "alarm_code", "fault": "breakdown", "start": t, "end": t,
                           "scored": t >= first_scored, "delay_s": (min(hits) - t) / US if hits else None})
    for asset, changes in truth.tool_changes.items():
        for c in changes:
            rules = [r for r in cfg.alerts.rules if r.type == "rul" and _watches(r, asset)]
            h = round(RUL_LEAD * max((r.horizon_s for r in rules), default=1800) * US)
            hits = [a["at"] for a in annunciations
                    if a["asset"] == asset and a["kind"] == "rul" and c - h <= a["at"] <= c]
            detections.append({"asset": asset, "signal": "tool_wear", "fault": "tool_end_of_life", "start": c - h,
                               "end": c, "scored": c - h >= first_scored,
                               "delay_s": (min(hits) - (c - h)) / US if hits else None})
    return {"annunciations": len(annunciations), "classes": dict(classes),
            "by_rule": {r: dict(c) for r, c in sorted(by_rule.items())}, "in_settling": in_settling,
            "not_true": not_true, "early_wear": early_wear,
            "detections": detections}


def score(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool the seeds: the report's keys."""
    hours = sum(r["days"] for r in runs) * 24
    asset_days = sum(r["days"] * len(r["watched"]) for r in runs)
    classes: Counter[str] = Counter()
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for r in runs:
        classes.update(r["classes"])
        for rule, c in r["by_rule"].items():
            by_rule[rule].update(c)
    detections = [d for r in runs for d in r["detections"]]
    scored = [d for d in detections if d["scored"]]
    recall, unmasked, delay, labels = {}, {}, {}, {}
    for fault in sorted({d["fault"] for d in scored}):
        mine = [d for d in scored if d["fault"] == fault]
        found = [d["delay_s"] for d in mine if d["delay_s"] is not None]
        clear = [d for d in mine if not d.get("masked")]
        labels[fault] = len(mine)
        recall[fault] = round(len(found) / len(mine), 3)
        unmasked[fault] = round(sum(d["delay_s"] is not None for d in clear) / len(clear), 3) if clear else None
        delay[fault] = round(statistics.median(found), 1) if found else None
    missed = Counter(f"{d['fault']} on {d['asset'].rsplit('/', 1)[-1]}/{d['signal']}" for d in scored
                     if d["delay_s"] is None)
    # a fault on a machine that never produced while it lasted: a watch on producing machines cannot see it
    standing = Counter(d["fault"] for d in scored if d["delay_s"] is None and d.get("producing_s") == 0)
    n = sum(classes.values())
    return {
        "seeds": [r["seed"] for r in runs], "days_per_seed": runs[0]["days"] if runs else 0,
        "simulated_hours": round(hours, 1), "watched_assets": runs[0]["watched"] if runs else [],
        "annunciations": n, "alerts_per_hour": round(n / hours, 2) if hours else None,
        "true": classes["true"], "false": classes["false"], "nuisance": classes["nuisance"],
        "false_per_asset_day": round((classes["false"] + classes["nuisance"]) / asset_days, 3) if asset_days else None,
        "false_per_day": round((classes["false"] + classes["nuisance"]) / (hours / 24), 2) if hours else None,
        "by_rule": {rule: dict(c) for rule, c in sorted(by_rule.items())},
        "recall": recall, "delay_median_s": delay, "labels_scored": labels,
        "recall_not_under_an_open_alert": unmasked,
        "labels_in_baseline": sum(1 for d in detections if not d["scored"]),
        "missed": dict(missed.most_common()),
        "missed_while_standing": dict(sorted(standing.items())),
        "missed_labels": [{"seed": r["seed"], "fault": d["fault"], "asset": d["asset"].rsplit("/", 1)[-1],
                           "signal": d["signal"], "hour": round((d["start"] - ORIGIN_US) / 3600 / US, 2),
                           "minutes": round((d["end"] - d["start"]) / 60 / US, 1), "masked": d.get("masked"),
                           "producing_s": d.get("producing_s")}
                          for r in runs for d in r["detections"] if d["scored"] and d["delay_s"] is None],
        "false_and_nuisance": [{"seed": r["seed"]} | x for r in runs for x in r["not_true"]],
        "in_settling": sum(r["in_settling"] for r in runs),
        "wear_share": round(WEAR_SHARE, 4), "vibration_share": round(VIBRATION_SHARE, 4),
        "true_before_vibration_moved": [{"seed": r["seed"]} | x for r in runs for x in r.get("early_wear", [])],
        "escalated_above_rule": sum(len(r["escalated_above_rule"]) for r in runs),
        "floods": sum(r["floods"] for r in runs), "suppressed_in_floods": sum(r["suppressed"] for r in runs),
        "rejected_records": sum(r["rejected"] for r in runs),
        "samples_on_wire": sum(r["samples_on_wire"] for r in runs),
        "run_wall_s": [r["wall_s"] for r in runs],
    }


def bench(days: float, seeds: Sequence[int], *, settle_s: float = 900.0, tolerance_s: float = 300.0,
          baseline_s: float = 3600.0, ack_s: float = 1200.0, workers: int = 1) -> dict[str, Any]:
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    args = [(s, days, settle_s, tolerance_s, baseline_s, ack_s) for s in seeds]
    if workers > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(min(workers, len(seeds))) as pool:
            runs = list(pool.map(run_seed, *zip(*args, strict=True)))
    else:
        runs = [run_seed(*a) for a in args]
    result = score(runs) | {"settle_s": settle_s, "tolerance_s": tolerance_s, "baseline_s": baseline_s,
                            "ack_s": ack_s,
                            "wall_s": round(time.perf_counter() - t0, 1),
                            "load_avg": [round(x, 2) for x in load0], "load_avg_end": [round(x, 2) for x in
                                                                                       os.getloadavg()]}
    return result
