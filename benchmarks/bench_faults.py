"""`factory-twin bench faults`: the detectors on the simulator's injected faults, and RUL on its bearing wear.

Faults: a labelled data set (`sim signals` at 1 Hz) from the plant model with random faults made more frequent;
one MEWMA per asset the way the twin runs it (sample-and-hold rows, threshold = largest baseline score × margin,
on-delay, hysteresis), plus streaming univariate detectors per signal where they fit (stuck value for stuck
sensors; rate of change and robust z for spikes). All learn from the first `baseline_h` hours, leaving out rows
of labelled faults; faults that start inside the baseline are not scored. Scored event-wise per fault type
(analytics.scoring.events), pooled over replications (one seed each).

RUL: a long run at one sample a minute with no injected faults, so the only thing moving the bearing's signals is
its wear. A health indicator on vibration and spindle temperature while the spindle runs, its hourly median on an
operating-hour clock, and the RUL with its interval every operating hour of each complete bearing life, scored
against rul.csv. Everything a life is scored with is learned from the other lives only (leave one life out), as a
plant would learn it from its own failure history: the failure threshold (the indicator at failure) and the
interval's calibration (`TrendRul`: conformal on the errors the trend made over the other lives, each of those
made with a threshold that saw neither life). `band_coverage` is the trend fit's own band, for comparison.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from analytics.anomaly import Mewma, QuantileThreshold, RateOfChange, RollingRobustZ, StuckValue
from analytics.maintenance import HealthIndicator, TrendRul
from analytics.scoring.events import FaultScore, Span, alarm_spans, false_alarms, score_faults
from analytics.scoring.rul import RulScore, score_rul
from factory_twin.sim_cli import pick_line
from plantmodel.catalog import AssetType
from plantmodel.plant import Asset, Line
from simulators.dataset import write_dataset
from twin.anomaly_monitor import monitored_signals, typed_signals
from twin.config import AnomalyConfig

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z: a fixed clock, so a seed gives the same data set
FAULT_DETECTORS: dict[str, tuple[str, ...]] = {
    "bearing_fault": ("mewma",), "coolant_loss": ("mewma",), "sensor_drift": ("mewma",),
    "stuck_sensor": ("mewma", "stuck-value"), "spikes": ("mewma", "rate-of-change", "robust-z"),
}
STUCK_MIN_ROWS = 30  # a stuck alarm needs at least this many repeats, whatever the baseline showed
RESTING_MIN_ROWS = 10  # a value held this long in the baseline is a resting value, not a stuck sensor
SPIKE_MERGE_S = 60.0  # spike alarms closer than this are one event (a fault spikes about every tenth sample)


@dataclass(slots=True)
class AssetRows:
    """One asset's analog signals as rows (sample and hold), times in seconds from the start of the run; `read`
    marks the values read at that row's instant (the rest are held from an earlier reading)."""

    asset: Asset
    signals: list[str]
    t: np.ndarray
    x: np.ndarray
    read: np.ndarray


def plant_variant(config: Path, out: Path, random_faults: dict[str, Any] | None = None,
                  faults: list[dict[str, Any]] | None = None) -> Line:
    """The first line of `config` with its fault injection replaced (None: no faults of that sort)."""
    pick_line(config, None)  # errors in the user's file name that file, not the variant
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    line = raw["sites"][0]["areas"][0]["lines"][0]
    sim = line.setdefault("simulation", {})
    sim.pop("random_faults", None)
    sim["faults"] = faults or []
    if random_faults is not None:
        sim["random_faults"] = random_faults
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return pick_line(out, None)


def _seconds(iso: str) -> float:
    return (datetime.fromisoformat(iso).timestamp() * 1_000_000 - START_US) / 1_000_000


def read_labels(path: Path) -> list[Span]:
    labels = []
    for text in path.read_bytes().splitlines():
        d = orjson.loads(text)
        labels.append(Span(d["asset"], _seconds(d["start"]), _seconds(d["end"]), d["fault"], d["signal"]))
    return labels


def read_rows(path: Path, line: Line) -> dict[str, AssetRows]:
    """samples.csv into rows per asset: each time stamp of an asset is one row, gaps held from the last value."""
    wanted = {a.path: monitored_signals(a, None) for a in line.assets()}
    columns: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    seconds: dict[str, float] = {}
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for ts, asset_path, signal, value in reader:
            if signal not in wanted.get(asset_path, ()):
                continue
            t = seconds.get(ts)
            if t is None:
                t = seconds[ts] = _seconds(ts)
            col = columns.setdefault((asset_path, signal), ([], []))
            col[0].append(t)
            col[1].append(float(value))
    out: dict[str, AssetRows] = {}
    for asset in line.assets():
        signals = [s for s in wanted[asset.path] if (asset.path, s) in columns]  # the catalogue may list more
        if not signals:
            continue
        stamps = [np.asarray(columns[asset.path, s][0]) for s in signals]
        times = np.unique(np.concatenate(stamps))
        x = np.full((len(times), len(signals)), np.nan)
        for j, s in enumerate(signals):
            x[np.searchsorted(times, stamps[j]), j] = columns[asset.path, s][1]
        read = np.isfinite(x)
        x = _hold(x)
        keep = np.isfinite(x).all(axis=1)
        out[asset.path] = AssetRows(asset, signals, times[keep], x[keep], read[keep])
    return out


def _hold(x: np.ndarray) -> np.ndarray:
    """Forward fill each column (sample and hold)."""
    idx = np.where(np.isfinite(x), np.arange(len(x))[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return np.take_along_axis(x, idx, axis=0)


def latch(scores: np.ndarray, threshold: float, on_delay: int, off_ratio: float) -> np.ndarray:
    """The twin's alert latch: on after `on_delay` rows over the threshold, off under `off_ratio` × threshold."""
    flags = np.zeros(len(scores), dtype=bool)
    over, on = 0, False
    for i, s in enumerate(scores.tolist()):
        over = over + 1 if s > threshold else 0
        if over >= on_delay:
            on = True
        elif s < off_ratio * threshold:
            on = False
        flags[i] = on
    return flags


def _in_labels(t: np.ndarray, labels: Sequence[Span]) -> np.ndarray:
    inside = np.zeros(len(t), dtype=bool)
    for lab in labels:
        inside |= (t >= lab.start) & (t <= lab.end)
    return inside


def stuck_flags(x_base: np.ndarray, x_test: np.ndarray, margin: float) -> np.ndarray:
    """Rows of `x_test` where the value has repeated for longer than the baseline ever repeated a value by chance.

    Values the baseline held for a while (0.0 while idle) are resting values and never count as stuck; short
    repeats of a quantised noisy signal are chance and do not make their value a resting one.
    """
    base = StuckValue(patience=1).score_learn_many(x_base)  # the run of repeats so far
    resting = np.unique(x_base[base >= RESTING_MIN_ROWS])
    base[np.isin(x_base, resting)] = 0
    runs = StuckValue(patience=1).score_learn_many(x_test)
    runs[np.isin(x_test, resting)] = 0
    return runs > max(margin * float(base.max(initial=0.0)), STUCK_MIN_ROWS)


def detect(rows: AssetRows, labels: Sequence[Span], baseline_s: float, cfg: AnomalyConfig) -> list[Span]:
    """Every detector on one asset: learn from the baseline (labelled rows left out), alarm spans after it."""
    mine = [lab for lab in labels if lab.asset == rows.asset.path]
    base = (rows.t < baseline_s) & ~_in_labels(rows.t, mine)
    test = rows.t >= baseline_s
    t = rows.t[test]
    path = rows.asset.path
    alarms: list[Span] = []
    if len(rows.signals) >= 2 and base.sum() >= 20:
        rate = [n for n in typed_signals(cfg.rate_signals, rows.asset, "lags") if n in rows.signals]
        ctx = [n for n in typed_signals(cfg.context_signals, rows.asset, "drifts") if n in rows.signals]
        model = Mewma(alpha=cfg.alpha, rate_signals=rate, context_signals=ctx if len(ctx) < len(rows.signals) else [],
                      burn_in=min(50, int(base.sum()) // 4),
                      threshold=QuantileThreshold(q=1.0, margin=cfg.threshold_margin))
        model.fit({s: rows.x[base, j] for j, s in enumerate(rows.signals)})
        scores = model.update({s: rows.x[test, j] for j, s in enumerate(rows.signals)})
        flags = latch(scores, float(model.threshold_), cfg.on_delay_rows, cfg.off_ratio)
        alarms += alarm_spans(t, flags, path, "mewma")
    wearing = set(typed_signals(cfg.context_signals, rows.asset, "drifts"))
    for j, s in enumerate(rows.signals):
        x_base, x_test = rows.x[base, j], rows.x[test, j]
        if s not in wearing:  # a wear counter holds still between parts by nature
            # repeats of readings, not of a value held between readings (a per-part measurement)
            rb, rt = rows.read[base, j], rows.read[test, j]
            alarms += alarm_spans(t[rt], stuck_flags(x_base[rb], x_test[rt], cfg.threshold_margin), path,
                                  "stuck-value", s)
        for name, detector in (("rate-of-change", RateOfChange()), ("robust-z", RollingRobustZ(window=60))):
            b = detector.score_learn_many(x_base)
            threshold = cfg.threshold_margin * float(b.max(initial=0.0))
            sc = detector.score_learn_many(x_test)
            alarms += alarm_spans(t, sc > threshold, path, name, s, merge_gap=SPIKE_MERGE_S)
    return alarms


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _replica(span: Span, seed: int) -> Span:
    """The span on its replication's copy of the asset, so that replications pool without meeting."""
    return Span(f"{seed}:{span.asset}", span.start, span.end, span.kind, span.signal)


def fault_bench(config: Path, hours: float, seeds: Sequence[int], per_day: float, baseline_h: float,
                tolerance_s: float, work: Path, faults: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Score the detectors on `config`'s scheduled faults (or `faults`) plus `per_day` random ones (0: none), one
    replication per seed, pooled."""
    if faults is None:
        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
        faults = raw["sites"][0]["areas"][0]["lines"][0].get("simulation", {}).get("faults", [])
    line = plant_variant(config, work / "plant.yaml", {"per_day": per_day} if per_day > 0 else None, faults)
    cfg = AnomalyConfig()
    baseline_s = baseline_h * 3600
    all_labels: list[Span] = []
    labels: list[Span] = []
    absent: list[Span] = []
    alarms: list[Span] = []
    samples, generated = 0, 0.0
    for seed in seeds:
        t0 = time.perf_counter()
        samples += write_dataset(line, hours, seed, 1.0, work / "data", start_us=START_US)["samples"]
        generated += time.perf_counter() - t0
        run_labels = read_labels(work / "data" / "labels.jsonl")
        rows = read_rows(work / "data" / "samples.csv", line)
        # the simulator labels a fault on a catalogue signal even when its model never sends that signal (a
        # robot's cycle_time): nothing changes in the data, so such labels are counted apart, not scored
        missing = [lab for lab in run_labels if lab.asset not in rows or lab.signal not in rows[lab.asset].signals]
        all_labels += [_replica(lab, seed) for lab in run_labels]
        absent += missing
        labels += [_replica(lab, seed) for lab in run_labels if lab.start >= baseline_s and lab not in missing]
        alarms += [_replica(a, seed) for r in rows.values() for a in detect(r, run_labels, baseline_s, cfg)]
    scored = score_faults(labels, alarms, FAULT_DETECTORS, tolerance_s)
    days = len(seeds) * max(hours - baseline_h, 1e-9) / 24
    result: dict[str, Any] = {
        "config": config.name, "hours": hours, "seeds": list(seeds), "faults_per_day": per_day,
        "baseline_h": baseline_h, "tolerance_s": tolerance_s, "samples": samples, "labels": len(all_labels),
        "labels_scored": len(labels), "labels_on_absent_signals": len(absent),
        "generate_s": round(generated, 1),
    }
    for kind, score in scored.items():
        entry = _fault_entry(score)
        entry["detectors"] = ",".join(FAULT_DETECTORS.get(kind, ("mewma",)))
        for det in FAULT_DETECTORS.get(kind, ("mewma",)):
            alone = score_faults([lab for lab in labels if lab.kind == kind], [a for a in alarms if a.kind == det],
                                 {}, tolerance_s)[kind]
            entry[f"recall_{det}"] = _r(alone.recall)
            entry[f"delay_median_s_{det}"] = _r(alone.delay(0.5), 1)
        # a fault that starts while the same signal is still under an earlier one is hard or (stuck twice)
        # impossible to detect: an alarm already open is not a detection
        entry["inside_an_earlier_fault"] = sum(
            1 for lab in labels if lab.kind == kind and any(
                o.asset == lab.asset and o.signal == lab.signal and o.start < lab.start <= o.end
                for o in all_labels))
        for signal in sorted({lab.signal or "" for lab in labels if lab.kind == kind}):
            mine = [lab for lab in labels if lab.kind == kind and lab.signal == signal]
            one = score_faults(mine, alarms, FAULT_DETECTORS, tolerance_s)[kind]
            entry[f"detected_on_{signal}"] = f"{one.detected}/{one.labels}"
        result[kind] = entry
    result["false_alarms_per_day"] = {
        det: _r(false_alarms([a for a in alarms if a.kind == det], all_labels, tolerance_s) / days, 2)
        for det in ("mewma", "stuck-value", "rate-of-change", "robust-z")}
    by_asset: dict[str, int] = {}
    for a in alarms:
        if a.kind == "mewma" and false_alarms([a], all_labels, tolerance_s):
            name = a.asset.rsplit("/", 1)[-1]
            by_asset[name] = by_asset.get(name, 0) + 1
    result["mewma_false_alarms_by_asset"] = dict(sorted(by_asset.items()))
    return result


def _fault_entry(score: FaultScore) -> dict[str, Any]:
    return {"labels": score.labels, "detected": score.detected, "recall": _r(score.recall),
            "precision": _r(score.precision), "true_alarms": score.true_alarms, "false_alarms": score.false_alarms,
            "delay_median_s": _r(score.delay(0.5), 1), "delay_p90_s": _r(score.delay(0.9), 1)}


# --- RUL ---------------------------------------------------------------------------------------------------------

RUL_SIGNALS = ("vibration_rms", "spindle_temperature")


@dataclass(slots=True)
class Life:
    """One bearing life on an operating-hour clock: hourly indicator, and the true RUL at each hour's end."""

    hours: np.ndarray  # operating hours at the end of each hour
    indicator: np.ndarray
    true_rul_h: np.ndarray
    length_h: float


def read_rul(path: Path, asset: str) -> tuple[np.ndarray, np.ndarray]:
    t, left = [], []
    with path.open(newline="") as f:
        for rec in csv.DictReader(f):
            if rec["asset"] == asset and rec["component"] == "bearing":
                t.append(_seconds(rec["ts"]))
                left.append(float(rec["rul_operating_s"]))
    return np.asarray(t), np.asarray(left)


def bearing_lives(rows: AssetRows, rul_t: np.ndarray, rul_s: np.ndarray, period_s: float,
                  baseline_op_h: float, bucket_h: float = 1.0) -> list[Life]:
    """Cut the run into complete bearing lives (new to failed); the indicator learns from the first life's start
    and is summed up as its median over every `bucket_h` operating hours."""
    at = np.searchsorted(rows.t, rul_t)
    ok = (at < len(rows.t)) & (rows.t[np.minimum(at, len(rows.t) - 1)] == rul_t)
    rul_t, rul_s, at = rul_t[ok], rul_s[ok], at[ok]
    cols = [rows.signals.index(s) for s in RUL_SIGNALS]
    speed = rows.x[at, rows.signals.index("spindle_speed")]
    x = rows.x[at][:, cols]
    starts = np.concatenate(([0], np.nonzero(np.diff(rul_s) > 0)[0] + 1, [len(rul_s)]))
    running = speed > 0
    first = slice(starts[0], starts[1])
    op_first = np.cumsum(running[first]) * period_s / 3600
    healthy = x[first][running[first] & (op_first <= baseline_op_h)]
    hi = HealthIndicator().fit({s: healthy[:, j] for j, s in enumerate(RUL_SIGNALS)})
    lives = []
    for a, b in itertools.pairwise(starts):
        if rul_s[b - 1] > 2 * period_s:  # the run ended before this bearing failed
            continue
        run = running[a:b]
        op_h = np.cumsum(run) * period_s / 3600
        h = hi.transform({s: x[a:b, j] for j, s in enumerate(RUL_SIGNALS)})
        bucket = np.floor(op_h[run] / bucket_h).astype(int)
        hours, indicator, truth = [], [], []
        for k in np.unique(bucket):
            m = bucket == k
            if m.sum() < bucket_h * 1800 / period_s:  # a bucket only partly run: too few rows for a median
                continue
            hours.append(float(k + 1) * bucket_h)
            indicator.append(float(np.median(h[run][m])))
            truth.append(float(rul_s[a:b][run][m][-1]) / 3600)
        lives.append(Life(np.asarray(hours), np.asarray(indicator), np.asarray(truth), float(rul_s[a]) / 3600))
    return lives


def estimate_life(life: Life, estimator: TrendRul, onset: float, window_h: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RUL with its interval at the end of every bucket, from the trend since the indicator's onset (at most the
    last `window_h` hours)."""
    n = len(life.hours)
    est, low, high = np.full(n, np.inf), np.full(n, np.inf), np.full(n, np.inf)
    over = np.nonzero(life.indicator >= onset)[0]
    if len(over) == 0:
        return est, low, high
    for i in range(int(over[0]) + 2, n):
        lo = max(int(over[0]), int(np.searchsorted(life.hours, life.hours[i] - window_h)))
        r = estimator.predict(life.hours[lo:i + 1], life.indicator[lo:i + 1])
        est[i], low[i], high[i] = r.rul, r.low, r.high
    return est, low, high


def _pooled(scores: list[RulScore]) -> dict[str, Any]:
    points = sum(s.points for s in scores)
    pooled: dict[str, Any] = {
        "points": points, "missing": sum(s.missing for s in scores),
        "mae_h": _r(sum(s.mae * s.points for s in scores if s.mae is not None) / points, 2) if points else None,
        "coverage": _r(sum(s.coverage * s.points for s in scores if s.coverage is not None) / points)
        if points else None}
    for share in (0.75, 0.5, 0.25, 0.1):
        errs = [s.at_life_left[share] for s in scores]
        got = [e for e in errs if e is not None]
        pooled[f"abs_error_h_at_{round(share * 100)}pct_left"] = _r(float(np.mean(got)), 2) if got else None
        pooled[f"lives_with_estimate_at_{round(share * 100)}pct_left"] = len(got)
    return pooled


def score_lives(lives: list[Life], at_end: list[float], model: str, onset: float, window_h: float,
                level: float = 0.9) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each life scored with everything learned from the others only: its failure threshold (their indicator
    at failure) and its interval's calibration (their estimates against their truth, each made with a threshold
    that saw neither life). Returns the calibrated score and, for comparison, the fit's own band's."""
    def threshold(*left_out: int) -> float:
        return float(np.mean([v for j, v in enumerate(at_end) if j not in left_out]))

    calibrated, band = [], []
    for i, life in enumerate(lives):
        estimates, truths = [], []
        for j, other in enumerate(lives):
            if j != i:
                e, _, _ = estimate_life(other, TrendRul(threshold(i, j), model, level), onset, window_h)
                estimates.append(e)
                truths.append(other.true_rul_h)
        fitted = TrendRul(threshold(i), model, level).fit(np.concatenate(estimates), np.concatenate(truths))
        est, low, high = estimate_life(life, fitted, onset, window_h)
        calibrated.append(score_rul(life.true_rul_h, est, low, high, life.length_h))
        est, low, high = estimate_life(life, TrendRul(threshold(i), model, level), onset, window_h)
        band.append(score_rul(life.true_rul_h, est, low, high, life.length_h))
    return _pooled(calibrated), _pooled(band)


def rul_bench(config: Path, hours: float, seeds: Sequence[int], work: Path, onset: float = 3.0,
              window_h: float = 30.0, period_s: float = 60.0, baseline_op_h: float = 5.0, bucket_h: float = 1.0,
              ) -> dict[str, Any]:
    """One run per seed; the complete bearing lives of all runs pooled (each run's indicator learns on its own)."""
    line = plant_variant(config, work / "plant-rul.yaml", None, None)
    wearing = [a for a in line.assets() if a.spec.is_a(AssetType.CNC_MACHINE) and any(
        f.wear == "bearing" for f in (a.config.sim.failures if a.config.sim else []))]
    if not wearing:
        return {"error": f"no asset in {config.name} has a failure mode with wear: bearing"}
    asset = wearing[0]
    lives: list[Life] = []
    for seed in seeds:
        write_dataset(line, hours, seed, period_s, work / "rul", start_us=START_US)
        rows = read_rows(work / "rul" / "samples.csv", line)[asset.path]
        rul_t, rul_s = read_rul(work / "rul" / "rul.csv", asset.path)
        lives += bearing_lives(rows, rul_t, rul_s, period_s, baseline_op_h, bucket_h)
    result: dict[str, Any] = {"asset": asset.path, "hours": hours, "seeds": list(seeds), "period_s": period_s,
                              "signals": list(RUL_SIGNALS), "complete_lives": len(lives),
                              "life_operating_h": [round(lf.length_h, 1) for lf in lives],
                              "onset": onset, "window_h": window_h, "bucket_h": bucket_h,
                              "baseline_operating_h": baseline_op_h}
    if len(lives) < 2:
        result["error"] = "fewer than two complete bearing lives: run longer (--rul-hours)"
        return result
    at_end = [float(np.median(lf.indicator[-3:])) for lf in lives]
    result["indicator_at_failure"] = [round(v, 2) for v in at_end]
    result["interval"] = ("TrendRul: conformal on the other lives' errors (ratio of true to estimated RUL, offset "
                          "by half the median estimate), estimate moved by the median error; band_coverage: the trend "
                          "fit's own 90 % band")
    for model in ("linear", "exponential"):
        calibrated, band = score_lives(lives, at_end, model, onset, window_h)
        calibrated["band_coverage"] = band["coverage"]
        calibrated["trend_mae_h"] = band["mae_h"]  # the trend's own estimate, before the median correction
        result[model] = calibrated
    return result


def run(config: Path, hours: float, seed: int, replications: int, per_day: float, baseline_h: float,
        tolerance_s: float, rul_hours: float) -> dict[str, Any]:
    seeds = range(seed, seed + replications)
    with tempfile.TemporaryDirectory(prefix="factory-twin-bench-") as tmp:
        t0 = time.perf_counter()
        result = fault_bench(config, hours, seeds, per_day, baseline_h, tolerance_s, Path(tmp))
        if rul_hours > 0:
            result["rul"] = _flat(rul_bench(config, rul_hours, seeds, Path(tmp)))
        result["wall_s"] = round(time.perf_counter() - t0, 1)
    return result


def _flat(d: dict[str, Any]) -> dict[str, Any]:
    """One level of nesting, so the CLI's table shows it line by line."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


