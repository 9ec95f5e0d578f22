"""Anomaly detection in the twin: one multivariate model per asset, scored on the live stream.

Signals arrive one by one; every `period_s` of source time the asset's latest values form one row (sample
and hold). Each asset learns from its first `baseline_rows` rows (or from a historian window through the
API, or from a saved model), then scores every row with an online MEWMA chart. A score over the threshold
(the largest healthy score × `threshold_margin`) for `on_delay_rows` rows in a row raises one alert per
asset, naming the signals that drove it; it clears when the score falls under `off_ratio` of the threshold.
The alarm and its end go to a sink (the alert engine's anomaly rules).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from analytics.anomaly import Mewma, QuantileThreshold, explain
from plantmodel.catalog import SignalKind
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import Quality, Sample, to_micros
from twin.config import AnomalyConfig
from twin.model_store import load_model, metadata_for, save_model

log = logging.getLogger(__name__)
#: (asset, source time, alarm on?, score, threshold, signals that drove it, largest share first)
AnomalySink = Callable[[str, datetime, bool, float | None, float | None, list[str]], None]


@dataclass(slots=True)
class AssetAnomaly:
    asset: Asset
    signals: list[str]
    latest: dict[str, float] = field(default_factory=dict)
    next_tick: int = 0
    baseline: list[list[float]] = field(default_factory=list)
    baseline_from: datetime | None = None
    model: Mewma | None = None
    trained: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    last_alarm: dict[str, Any] | None = None
    rows: int = 0
    over: int = 0  # consecutive rows over the threshold
    # the type lists the signals such a machine may carry; the model takes those this one reports: while it
    # learns, a signal reported for the first time joins and the baseline starts again (a configured list or
    # a saved model fixes them at once)
    candidates: list[str] = field(default_factory=list)
    settled: bool = False

    def status(self, baseline_rows: int) -> dict[str, Any]:
        m = self.model
        return {"asset": self.asset.path, "signals": self.signals,
                "state": "monitoring" if m is not None else f"learning ({len(self.baseline)}/{baseline_rows} rows)",
                "score": self.score, "threshold": float(m.threshold_) if m is not None else None,
                "rows_scored": self.rows, "trained": self.trained or None, "last_alarm": self.last_alarm}


def monitored_signals(asset: Asset, chosen: list[str] | None) -> list[str]:
    numeric = [s.name for s in asset.signals if s.kind is SignalKind.ANALOG]
    return [s for s in numeric if s in chosen] if chosen else numeric


class AnomalyMonitor:
    def __init__(self, config: AnomalyConfig, plant: PlantConfig, sink: AnomalySink | None = None) -> None:
        self.config, self.sink = config, sink
        self.assets: dict[str, AssetAnomaly] = {}
        for a in plant.assets():
            if any(fnmatch.fnmatchcase(a.path, g) for g in config.assets):
                chosen = config.signals.get(str(a.type))
                signals = monitored_signals(a, chosen)
                if len(signals) >= 2:
                    self.assets[a.path] = AssetAnomaly(a, signals if chosen else [], candidates=signals,
                                                       settled=bool(chosen))
        self.period_us = int(config.period_s * 1_000_000)
        if config.model_dir is not None:
            for st in self.assets.values():
                self._load(st)

    def _path(self, st: AssetAnomaly) -> Path:
        assert self.config.model_dir is not None
        return self.config.model_dir / (st.asset.path.replace("/", "__") + ".skops")

    def _load(self, st: AssetAnomaly) -> None:
        path = self._path(st)
        if not path.exists():
            return
        try:
            model, meta = load_model(path)
        except Exception as exc:  # a bad file must not stop the twin: the asset learns anew
            log.error("cannot load the anomaly model of %s from %s: %s", st.asset.path, path, exc)
            return
        if not set(meta.signals) <= set(st.candidates):
            log.warning("model for %s was trained on other signals; learning anew", st.asset.path)
            return
        st.signals, st.settled = list(meta.signals), True
        st.model, st.trained = model, {"rows": meta.trained_rows, "from": meta.trained_from, "to": meta.trained_to,
                                       "source": "file"}

    def observe(self, sample: Sample) -> None:
        st = self.assets.get(sample.asset)
        if st is None or sample.signal not in st.candidates or sample.quality is Quality.BAD:
            return
        value = sample.value
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            return
        st.latest[sample.signal] = float(value)
        ts = to_micros(sample.ts)
        if not st.settled and sample.signal not in st.signals:
            st.signals = [s for s in st.candidates if s in st.latest]
            st.baseline, st.next_tick = [], 0
        if ts < st.next_tick or len(st.signals) < 2 or len(st.latest) < len(st.signals):
            return
        st.next_tick = ts - ts % self.period_us + self.period_us
        row = [st.latest[s] for s in st.signals]
        if st.model is None:
            if not st.baseline:
                st.baseline_from = sample.ts
            st.baseline.append(row)
            if len(st.baseline) >= self.config.baseline_rows:
                self.fit(st, np.asarray(st.baseline), st.baseline_from or sample.ts, sample.ts, "live baseline")
            return
        scores, contrib = st.model.update_explained(np.asarray([row]))
        st.score, st.rows = float(scores[0]), st.rows + 1
        threshold = float(st.model.threshold_)
        st.over = st.over + 1 if st.score > threshold else 0
        if st.over >= self.config.on_delay_rows:
            alarm = explain(st.score, threshold, st.signals, contrib[0])
            top = [{"signal": n, "share": s} for n, s in alarm.contributions[:3]]
            st.last_alarm = {"ts": sample.ts, "score": st.score, "severity": alarm.severity, "signals": top}
            if self.sink is not None:
                self.sink(st.asset.path, sample.ts, True, st.score, threshold, list(alarm.top(3)))
        elif st.score < self.config.off_ratio * threshold:  # the sink knows whether an alarm is open to end
            if self.sink is not None:
                self.sink(st.asset.path, sample.ts, False, st.score, threshold, [])

    def fit(self, st: AssetAnomaly, rows: np.ndarray, start: datetime, end: datetime, source: str) -> None:
        drifting = self.config.rate_signals.get(str(st.asset.type))
        if drifting is None:
            drifting = [n for n in st.signals if (spec := st.asset.signal(n)) is not None and spec.drifts]
        rate = [n for n in drifting if n in st.signals]
        # the largest healthy score with a margin: a quantile of a few hundred autocorrelated scores is not
        # an extreme-value estimate, and a plant will not tolerate alerts every hour
        model = Mewma(alpha=self.config.alpha, rate_signals=rate, burn_in=min(50, len(rows) // 4),
                      threshold=QuantileThreshold(q=1.0, margin=self.config.threshold_margin))
        model.fit({name: rows[:, i] for i, name in enumerate(st.signals)})
        st.model, st.baseline, st.score, st.rows, st.settled = model, [], None, 0, True
        st.trained = {"rows": len(rows), "from": start, "to": end, "source": source}
        log.info("anomaly model of %s trained on %d rows (%s)", st.asset.path, len(rows), source)
        if self.config.model_dir is not None:
            save_model(self._path(st), model, metadata_for(model, st.asset.path, len(rows), start.isoformat(),
                                                           end.isoformat()))

    def train_from(self, asset: str, samples: Iterable[Sample]) -> dict[str, Any]:
        """Retrain one asset on a historian window: its samples resampled to rows as the live stream does."""
        st = self.assets[asset]
        samples = sorted(samples, key=lambda s: s.ts)
        if not st.settled:  # the signals this window holds
            present = {s.signal for s in samples if isinstance(s.value, int | float) and not isinstance(s.value, bool)}
            st.signals = [n for n in st.candidates if n in present]
        shadow = AssetAnomaly(st.asset, st.signals)
        rows, first, last = [], None, None
        for s in samples:
            if s.signal not in st.signals or s.quality is Quality.BAD or isinstance(s.value, bool | str):
                continue
            shadow.latest[s.signal] = float(s.value)
            ts = to_micros(s.ts)
            if ts >= shadow.next_tick and len(shadow.latest) == len(st.signals):
                shadow.next_tick = ts - ts % self.period_us + self.period_us
                rows.append([shadow.latest[n] for n in st.signals])
                first, last = first or s.ts, s.ts
        if len(rows) < 20 or first is None or last is None:
            raise ValueError(f"{asset}: only {len(rows)} complete rows in that window; need at least 20")
        self.fit(st, np.asarray(rows), first, last, "historian")
        return st.status(self.config.baseline_rows)
