"""`factory-twin bench skab`: the detectors on SKAB with SKAB's protocol, beside its published leaderboard.

Per file the first 400 rows train a fresh model and the rest is the test part; confusion counts are pooled over
all files' test parts (F1, FAR, MAR) and the changepoint score is SKAB's NAB-style one with 60 s windows.

No setting is chosen on the file it scores. The headline is the MEWMA chart with its settings chosen leaving
the scored file out (for each file, the grid point with the best F1 at a false-alarm rate under 13.55 % on the
other files); every other row runs settings fixed beforehand (the twin's defaults, SKAB's own baselines). The
published leaderboard is over SKAB's 34 files: a comparison with it is made only when the data folder holds
all of them, and never claimed on a subset.

Caveat: two of the grid's options (releasing an alarm under 1 % of its episode's peak, and the level tolerance)
were designed after studying the false alarms of these same files (other/6 and other/7 stayed in alarm after
their anomaly ended). Leave-one-file-out decides whether to use them, but the options themselves were not
designed blind; the 11 files of the full benchmark that are not in `../shared` are the unseen check.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analytics.anomaly import (
    Hysteresis,
    IsolationForestDetector,
    Mewma,
    PcaMonitor,
    QuantileThreshold,
    explain,
)
from analytics.anomaly.base import MultivariateDetector
from analytics.scoring import Confusion, changepoint_score
from benchmarks.skab import TRAIN_ROWS, SkabFile, load_skab

#: Slow thermal signals of the SKAB rig: healthy drift of their level would alarm, so they enter as rates.
THERMAL = ("Temperature", "Thermocouple")
#: SKAB README leaderboard (full benchmark, 34 files): F1, FAR %, MAR %, NAB standard / LowFP / LowFN.
PUBLISHED: dict[str, tuple[float, float, float, tuple[float, float, float] | None]] = {
    "Conv-AE": (0.78, 13.55, 28.02, (23.61, 21.54, 27.55)),
    "MSET": (0.78, 39.73, 14.13, (13.84, 10.22, 17.37)),
    "T²+Q (PCA)": (0.76, 26.62, 24.92, (25.35, 14.51, 31.33)),
    "LSTM-AE": (0.74, 29.96, 25.92, (23.51, 20.11, 25.91)),
    "T²": (0.66, 19.21, 42.60, (19.54, 10.20, 24.31)),
    "LSTM-VAE": (0.56, 9.13, 55.03, None),
    "Vanilla LSTM": (0.54, 12.54, 59.53, None),
    "Vanilla AE": (0.39, 2.59, 75.15, None),
    "MSCRED": (0.36, 49.94, 69.88, (32.42, 16.53, 40.28)),
    "Isolation forest": (0.29, 2.56, 82.89, (26.16, 19.50, 30.82)),
}
BEST_PUBLISHED_FAR = 13.55  # Conv-AE: the best published F1 at the lowest false-alarm rate


@dataclass(frozen=True)
class Candidate:
    """A detector as the bench runs it: a fresh model per file, and how its scores become alarms."""

    name: str
    online: bool
    make: Callable[[], MultivariateDetector]
    alarms: Callable[[MultivariateDetector, dict[str, NDArray[np.float64]]], NDArray[np.int64]]
    about: str


#: A large event's remainder: alarms clear under 1 % of the episode's peak, and re-raise only above a level that
#: decays from there back to the threshold with this half-life (rows, seconds at SKAB's 1 Hz).
RELEASE_RATIO = 0.01
RECOVERY_ROWS = 100.0
FILES_IN_FULL_BENCHMARK = 34


def _twin_defaults() -> Mewma:
    from twin.config import AnomalyConfig  # the twin's shipped defaults, chosen before SKAB was run

    d = AnomalyConfig()
    return Mewma(alpha=d.alpha, rate_signals=THERMAL, threshold=QuantileThreshold(q=1.0, margin=d.threshold_margin))


def _online_hysteresis(model: MultivariateDetector, rows: dict[str, NDArray[np.float64]]) -> NDArray[np.int64]:
    assert isinstance(model, Mewma)
    from twin.config import AnomalyConfig

    return Hysteresis(on=model.threshold_, off_ratio=AnomalyConfig().off_ratio, release_ratio=RELEASE_RATIO,
                      recovery_rows=RECOVERY_ROWS).update(model.update(rows))


def _batch(model: MultivariateDetector, rows: dict[str, NDArray[np.float64]]) -> NDArray[np.int64]:
    return model.predict(rows)


def _rolling_median_3(model: MultivariateDetector, rows: dict[str, NDArray[np.float64]]) -> NDArray[np.int64]:
    p = model.predict(rows)
    if len(p) < 3:
        return p
    smoothed = np.median(np.lib.stride_tricks.sliding_window_view(p, 3), axis=1)
    return np.concatenate(([0, 0], smoothed)).astype(np.int64)  # pandas' rolling(3).median().fillna(0)


#: Detectors with settings fixed before they were run on SKAB: comparisons, not the headline.
CANDIDATES = (
    Candidate("mewma-twin-defaults", True, _twin_defaults, _online_hysteresis,
              "MEWMA with the twin's shipped defaults (alpha 0.2, 1.5x the baseline's max T², off at half), thermal "
              "signals as rates, release after large events; online"),
    Candidate("pca-t2q", False,
              lambda: PcaMonitor(n_components=0.9, threshold=QuantileThreshold(q=0.99)),
              _batch, "PCA T² and Q over their 99th-percentile limits, 90 % variance kept; per row"),
    Candidate("isolation-forest", False,
              lambda: IsolationForestDetector(random_state=0, threshold=QuantileThreshold(q=0.9995)),
              _rolling_median_3, "SKAB's baseline settings: 0.05 % contamination, rolling median of 3"),
)
HEADLINE = "mewma-lofo"


def alarm_causes(files: list[SkabFile]) -> dict[str, dict[str, int]]:
    """Per folder, how often each signal was named first when the twin-defaults MEWMA raised an alarm."""
    causes: dict[str, dict[str, int]] = {}
    for f in files:
        model = _twin_defaults().fit(f.rows(slice(0, TRAIN_ROWS)))
        scores, parts = model.update_explained(f.rows(slice(TRAIN_ROWS, None)))
        on = Hysteresis(on=model.threshold_, off_ratio=0.5, release_ratio=RELEASE_RATIO,
                        recovery_rows=RECOVERY_ROWS).update(scores)
        raised = np.nonzero(np.diff(np.concatenate(([0], on))) == 1)[0]
        folder = causes.setdefault(f.name.split("/")[0], {})
        for row in raised:
            alarm = explain(scores[row], model.threshold_, model.signal_names_, parts[row])
            folder[alarm.top(1)[0]] = folder.get(alarm.top(1)[0], 0) + 1
    return {k: dict(sorted(v.items(), key=lambda kv: -kv[1])) for k, v in causes.items()}


def _check(files: list[SkabFile]) -> None:
    for f in files:
        if len(f.times) <= TRAIN_ROWS:
            raise ValueError(f"{f.name}: {len(f.times)} rows, the protocol needs more than {TRAIN_ROWS}")


def _per_file(f: SkabFile, c: Confusion) -> dict[str, Any]:
    return {"f1": round(c.f1, 3), "far": round(c.far, 2), "mar": round(c.mar, 2),
            "anomalous_share": round((c.tp + c.fn) / max(c.tp + c.fn + c.fp + c.tn, 1), 3),
            "anomalous_training_rows": int(f.anomaly[:TRAIN_ROWS].sum())}


def _summary(conf: Confusion, changepoints: list[Any]) -> dict[str, Any]:
    return {"f1": round(conf.f1, 4), "far": round(conf.far, 2), "mar": round(conf.mar, 2),
            "nab": changepoint_score(changepoints, width=60.0),
            "tp": conf.tp, "fp": conf.fp, "fn": conf.fn, "tn": conf.tn}


def evaluate(files: list[SkabFile], candidate: Candidate) -> dict[str, Any]:
    conf = Confusion()
    changepoints = []
    per_file = {}
    test = slice(TRAIN_ROWS, None)
    for f in files:
        model = candidate.make().fit(f.rows(slice(0, TRAIN_ROWS)))
        predicted = candidate.alarms(model, f.rows(test))
        c = Confusion.of(f.anomaly[test], predicted)
        conf = conf + c
        per_file[f.name] = _per_file(f, c)
        changepoints.append((f.times[test], f.changepoint[test], predicted))
    return {**_summary(conf, changepoints), "online": candidate.online, "about": candidate.about,
            "settings": "fixed beforehand", "per_file": per_file}


#: The settings the headline chooses among, for each file on the other files: MEWMA weight, threshold margin over
#: the baseline's largest T², clear level (share of the threshold), level tolerance, release after large events.
GRID = list(itertools.product((0.1, 0.2, 0.3), (1.0, 1.5, 2.0, 2.5), (0.5, 1.0), (0.0, 0.0025, 0.005),
                              (0.0, RELEASE_RATIO)))


def _scores(f: SkabFile, alpha: float, margin: float, tolerance: float) -> tuple[NDArray[np.float64], float]:
    model = Mewma(alpha=alpha, rate_signals=THERMAL, threshold=QuantileThreshold(q=1.0, margin=margin),
                  level_tolerance=tolerance)
    model.fit(f.rows(slice(0, TRAIN_ROWS)))
    return model.update(f.rows(slice(TRAIN_ROWS, None))), float(model.threshold_)


def leave_one_file_out(files: list[SkabFile]) -> dict[str, Any]:
    """The headline: each file scored with the grid point that did best on the other files (best F1 with FAR
    under 13.55 %; the best F1 if none is)."""
    test = slice(TRAIN_ROWS, None)
    charts = {(a, m, tol): [_scores(f, a, m, tol) for f in files]
              for a, m, tol in {(g[0], g[1], g[3]) for g in GRID}}
    alarms: dict[tuple[float, ...], list[NDArray[np.int64]]] = {}
    for g in GRID:
        a, m, off, tol, release = g
        alarms[g] = [Hysteresis(on=thr, off_ratio=off, release_ratio=release, recovery_rows=RECOVERY_ROWS)
                     .update(sc) for sc, thr in charts[a, m, tol]]
    counts: dict[tuple[float, ...], list[Confusion]] = {
        g: [Confusion.of(f.anomaly[test], p) for f, p in zip(files, alarms[g], strict=True)] for g in GRID}
    conf, changepoints, per_file = Confusion(), [], {}
    for i, f in enumerate(files):
        def merit(g: tuple[float, ...], i: int = i) -> tuple[bool, float]:
            c = sum((x for j, x in enumerate(counts[g]) if j != i), Confusion())
            return c.far < BEST_PUBLISHED_FAR, c.f1

        g = max(GRID, key=merit)
        conf = conf + counts[g][i]
        changepoints.append((f.times[test], f.changepoint[test], alarms[g][i]))
        per_file[f.name] = {**_per_file(f, counts[g][i]), "settings": _settings(g)}
    in_sample = max(GRID, key=lambda g: (sum(counts[g], Confusion()).far < BEST_PUBLISHED_FAR,
                                         sum(counts[g], Confusion()).f1))
    c = sum(counts[in_sample], Confusion())
    return {**_summary(conf, changepoints), "online": True, "settings": "chosen leaving the scored file out",
            "about": "MEWMA chart, thermal signals as rates; settings chosen on the other files",
            "grid_size": len(GRID),
            "settings_chosen": sorted({v["settings"] for v in per_file.values()}), "per_file": per_file,
            "in_sample_best_not_a_result": {"settings": _settings(in_sample), "f1": round(c.f1, 4),
                                            "far": round(c.far, 2), "mar": round(c.mar, 2)}}


def _settings(g: tuple[float, ...]) -> str:
    a, m, off, tol, release = g
    return f"alpha={a} margin={m} off={off} tolerance={tol} release={release}"


def run(data: Path) -> dict[str, Any]:
    files = load_skab(data)
    _check(files)
    results = {HEADLINE: leave_one_file_out(files)} if len(files) > 1 else {}
    results |= {c.name: evaluate(files, c) for c in CANDIDATES}
    full = len(files) >= FILES_IN_FULL_BENCHMARK
    head = results.get(HEADLINE)
    comparison: dict[str, Any] | None = None
    if full and head:
        comparison = {name: {"f1_higher": head["f1"] > f1, "far_lower": head["far"] < far}
                      for name, (f1, far, _, _) in PUBLISHED.items()}
    return {"files": len(files), "full_benchmark": full, "test_rows": sum(len(f.times) - TRAIN_ROWS for f in files),
            "headline": HEADLINE if head else None, "detectors": results,
            "comparison_with_published": comparison,
            "published": {k: {"f1": v[0], "far": v[1], "mar": v[2],
                              "nab": dict(zip(("standard", "low_fp", "low_fn"), v[3], strict=True)) if v[3] else None}
                          for k, v in PUBLISHED.items()},
            "mewma_alarm_causes": alarm_causes(files)}


def table(result: dict[str, Any]) -> str:
    head = f"{'detector':<22}{'F1':>6}{'FAR %':>8}{'MAR %':>8}   NAB std / LowFP / LowFN"
    lines = [f"SKAB: {result['files']} files, {result['test_rows']} test rows (first {TRAIN_ROWS} of each file train)",
             head, "-" * len(head)]

    def nab(n: dict[str, float] | None) -> str:
        return f"{n['standard']:6.2f} / {n['low_fp']:6.2f} / {n['low_fn']:6.2f}" if n else "     -"

    for name, r in result["detectors"].items():
        mark = " *" if name == result["headline"] else ""
        lines.append(f"{name + mark:<22}{r['f1']:>6.3f}{r['far']:>8.2f}{r['mar']:>8.2f}   {nab(r['nab'])}")
    lines.append(f"published ({FILES_IN_FULL_BENCHMARK}-file benchmark):")
    for name, r in result["published"].items():
        lines.append(f"  {name:<20}{r['f1']:>6.2f}{r['far']:>8.2f}{r['mar']:>8.2f}   {nab(r['nab'])}")
    if result["headline"]:
        lines.append(f"* headline: {result['headline']}, settings chosen leaving the scored file out; the other rows "
                     "use settings fixed beforehand")
    comparison = result.get("comparison_with_published")
    if comparison:
        both = [k for k, v in comparison.items() if v["f1_higher"] and v["far_lower"]]
        lines.append(f"headline against the published rows (all {FILES_IN_FULL_BENCHMARK} files): higher F1 at a lower "
                     f"FAR than {len(both)} of {len(comparison)}" + (f" ({', '.join(both)})" if both else ""))
    if not result["full_benchmark"]:
        lines.append(f"{result['files']} of the benchmark's {FILES_IN_FULL_BENCHMARK} files: not comparable with the "
                     "published rows, no comparison made")
    head_r = result["detectors"].get(result["headline"] or "")
    if head_r:
        lines.append("per file (headline): F1 / FAR % / MAR %")
        for name, r in head_r["per_file"].items():
            note = f"  ({r['anomalous_training_rows']} anomalous training rows)" if r["anomalous_training_rows"] else ""
            lines.append(f"  {name:<16}{r['f1']:>6.3f}{r['far']:>8.2f}{r['mar']:>8.2f}{note}")
    for folder, counts in result.get("mewma_alarm_causes", {}).items():
        named = ", ".join(f"{k} {v}" for k, v in counts.items())
        lines.append(f"mewma alarms in {folder}/ named first: {named}")
    return "\n".join(lines)
