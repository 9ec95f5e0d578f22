"""Anomaly detection in the twin: one multivariate model per asset, and a stuck-sensor check per signal.

Signals arrive one by one; every `period_s` of source time the asset's latest values form one row (sample and
hold). Rows are made only while the machine produces, and, for a machine with slow thermal (rate) signals, not
in the first `settle_s` after it starts again from a stop of `settle_after_s` or more (a shorter stop within
that time ends none of it): a machine standing still, or warming up after a breakdown, is not behaving unusually
(an asset that reports no state is watched all the time). After such a stop the chart starts afresh. Signals
listed as rate signals (slow thermal ones) enter as their step since the previous row of the same run, unless a
thermal lag of the machine's work (warming while it produces, cooling while it stands;
analytics.anomaly.thermal) learned over the baseline, stops included, explains them: they then enter as their
departure from that lag, where a sensor drifting by half a degree shows beside warm-ups of twenty. Context
signals (a tool's wear) explain the others rather than being watched themselves (analytics.anomaly.Mewma).

Each asset learns from its first `baseline_rows` rows (or from a historian window through the API, or from a
saved model), then scores every row with an online MEWMA chart. A score over the threshold (the largest healthy
score × `threshold_margin`) for `on_delay_rows` rows in a row is an alarm, naming the signals that drove it; it
ends when the score stays under `off_ratio` of the threshold for `off_delay_rows` rows. A sensor whose value
does not change while the machine produces for longer than it ever stood still in the baseline (×
`threshold_margin`, and more than `stuck_min_s`) is stuck: an alarm naming that signal, which ends when the
value moves again. A sensor that, while the machine produces (a thermal one only once it has settled), shows
`spike_count` spikes within `spike_window_s` (single readings farther from the median of those before them than
the baseline ever went × `threshold_margin`, and than `spike_min_z`; analytics.anomaly.SpikeCounter) is spiking
until a window passes without one. A stuck or spiking sensor goes to the alert engine's sensor rules, an alert
of its own beside the asset's anomaly alert (a sensor failing while the machine is already unusual is news); an
asset no sensor rule watches raises its anomaly alert instead.
"""

from __future__ import annotations

import fnmatch
import logging
import math
from array import array
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from analytics.anomaly import Mewma, QuantileThreshold, SpikeCounter, explain
from analytics.anomaly.thermal import ThermalLag
from plantmodel.catalog import SignalKind
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import AssetState, Quality, Sample, to_micros
from twin.config import AnomalyConfig
from twin.model_store import load_model, metadata_for, save_model

log = logging.getLogger(__name__)
#: (asset, source time, alarm on?, score, threshold, signals that drove it, largest share first, each signal's part
#: of the score)
AnomalySink = Callable[[str, datetime, bool, float | None, float | None, list[str], dict[str, float] | None], None]
#: (asset, signal, source time, faulty?, fault ("stuck", "spikes"), its measure (seconds still, spikes counted))
SensorSink = Callable[[str, str, datetime, bool, str, float | None], None]
US = 1_000_000


@dataclass(slots=True)
class Run:
    """One signal: its value, and how long the machine has produced since it last changed (µs). A source that
    reports by exception (OPC-UA) sends nothing while a value stands still, so a frozen sensor shows as a value
    that stops changing while the machine works on, not as a run of equal readings."""

    value: float = math.nan
    still_us: int = 0
    longest_us: int = 0  # in the baseline


class ThermalTrace:
    """What a learning asset's rate signals read at every tick, stops included, for its thermal lags: in compact
    columns (about 17 bytes a tick and signal), as a machine that stands for days while it learns keeps
    appending; the latest `limit` ticks are kept."""

    def __init__(self, signals: Iterable[str], limit: int = 200_000) -> None:
        self.limit = limit
        self.ticks, self.producing = array("q"), array("b")
        self.values = {s: array("d") for s in sorted(signals)}

    def __len__(self) -> int:
        return len(self.ticks)

    def append(self, tick: int, producing: bool, latest: dict[str, float]) -> None:
        self.ticks.append(tick)
        self.producing.append(producing)
        for s, column in self.values.items():
            column.append(latest.get(s, math.nan))  # NaN: not reported yet
        if len(self.ticks) > self.limit + self.limit // 8:  # trimmed in batches: a cut costs a copy
            cut = len(self.ticks) - self.limit
            del self.ticks[:cut], self.producing[:cut]
            for column in self.values.values():
                del column[:cut]

    def of(self, signal: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ticks (µs) at which `signal` had been reported, whether the machine produced then, its readings."""
        values = np.frombuffer(self.values[signal], dtype=np.float64)
        known = ~np.isnan(values)
        return (np.frombuffer(self.ticks, dtype=np.int64)[known],
                np.frombuffer(self.producing, dtype=np.int8)[known].astype(np.float64), values[known].copy())


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
    under: int = 0  # consecutive rows under the clearing level
    # the type (or the configuration) lists the signals such a machine may carry; the model takes those this one
    # reports: while it learns, a signal reported for the first time joins and the baseline starts again (a
    # saved model fixes them at once)
    candidates: list[str] = field(default_factory=list)
    settled: bool = False
    rate: frozenset[str] = frozenset()
    context: frozenset[str] = frozenset()
    seen: dict[str, int] = field(default_factory=dict)  # signal -> when it was last read, µs
    run_start: int = 0  # when the current producing run began, µs
    afresh: bool = False  # the chart starts afresh at the next row (a run after a long stop)
    # the machine's state, as its state signal reports it; None: it reports none (watched all the time)
    state: str | None = None
    stopped_at: int = 0  # when it last stopped producing, µs
    scored_from: int = 0  # rows are made from this instant of the current producing run, µs
    last_row: int = -1  # tick of the previous row of this run (-1: the run has none yet)
    previous: dict[str, float] = field(default_factory=dict)  # rate signals' values in the previous row
    offset: dict[str, float] = field(default_factory=dict)  # added to a rate signal so a gap makes no step
    runs: dict[str, Run] = field(default_factory=dict)
    stuck_limits: dict[str, int] = field(default_factory=dict)  # signal -> producing µs without a change
    accounted_us: int = 0  # producing time is counted up to here
    stuck_learned_us: int = 0  # producing time watched to learn how long each value stands still
    stuck: set[str] = field(default_factory=set)  # signals stuck now
    spikes: dict[str, SpikeCounter] = field(default_factory=dict)
    spike_limits: dict[str, float] = field(default_factory=dict)  # signal -> robust z that is a spike
    spike_times: dict[str, deque[int]] = field(default_factory=dict)  # signal -> its spikes within the window, µs
    spiking: set[str] = field(default_factory=set)  # signals spiking now
    separate: bool = False  # its faulty sensors go to the sensor sink, not into the anomaly alert
    sensors_told: bool = False  # the sensor sink has heard that every sensor reads true (after a start)
    mewma_on: bool = False
    # rate signals a thermal lag explains enter as their departure from it (analytics.anomaly.thermal)
    lags: dict[str, ThermalLag] = field(default_factory=dict)
    lag_x: dict[str, float] = field(default_factory=dict)  # each lag's state now
    lag_at: int = 0  # the lags are advanced up to here, µs
    trace: ThermalTrace = field(default_factory=lambda: ThermalTrace(()))  # while it learns
    row_ticks: list[int] = field(default_factory=list)  # the tick of each baseline row

    def status(self, baseline_rows: int) -> dict[str, Any]:
        m = self.model
        return {"asset": self.asset.path, "signals": self.signals,
                "state": "monitoring" if m is not None else f"learning ({len(self.baseline)}/{baseline_rows} rows)",
                "score": self.score, "threshold": float(m.threshold_) if m is not None else None,
                "rows_scored": self.rows, "trained": self.trained or None, "last_alarm": self.last_alarm,
                "stuck": sorted(self.stuck), "spiking": sorted(self.spiking)}

    def producing(self) -> bool:
        return self.state is None or self.state == AssetState.PRODUCING


def typed_signals(configured: dict[str, list[str]], asset: Asset, flag: str) -> list[str]:
    """The configured signals of the asset's type, or else those its catalogue entry flags (`lags`, `drifts`)."""
    listed = configured.get(str(asset.type))
    if listed is not None:
        return listed
    return [s.name for s in asset.signals if getattr(s, flag, False)]


def monitored_signals(asset: Asset, chosen: list[str] | None) -> list[str]:
    numeric = [s.name for s in asset.signals if s.kind is SignalKind.ANALOG]
    return [s for s in numeric if s in chosen] if chosen else numeric


class AnomalyMonitor:
    def __init__(self, config: AnomalyConfig, plant: PlantConfig, sink: AnomalySink | None = None,
                 sensor_sink: SensorSink | None = None, sensor_covers: Callable[[str], bool] | None = None) -> None:
        self.config, self.sink, self.sensor_sink = config, sink, sensor_sink
        self.assets: dict[str, AssetAnomaly] = {}
        for a in plant.assets():
            if any(fnmatch.fnmatchcase(a.path, g) for g in config.assets):
                chosen = config.signals.get(str(a.type))
                signals = monitored_signals(a, chosen)
                if signals:  # a configured list says which signals may be used: those this machine reports are
                    rate = frozenset(typed_signals(config.rate_signals, a, "lags")) & set(signals)
                    context = frozenset(typed_signals(config.context_signals, a, "drifts")) & set(signals)
                    separate = sensor_sink is not None and (sensor_covers is None or sensor_covers(a.path))
                    self.assets[a.path] = AssetAnomaly(a, [], candidates=signals, rate=rate, context=context,
                                                       separate=separate, trace=ThermalTrace(rate))
        self.period_us = int(config.period_s * US)
        self.settle_us, self.settle_after_us = int(config.settle_s * US), int(config.settle_after_s * US)
        self.spike_window_us = int(config.spike_window_s * US)
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
        st.stuck_limits, st.spike_limits = dict(meta.stuck_limits), dict(meta.spike_limits)
        st.lags = {s: ThermalLag.from_params(p) for s, p in meta.thermal.items() if s in st.signals}
        st.model, st.trained = model, {"rows": meta.trained_rows, "from": meta.trained_from, "to": meta.trained_to,
                                       "source": "file"}

    # ---- the live stream -------------------------------------------------------------------------------------

    def observe(self, sample: Sample) -> None:
        st = self.assets.get(sample.asset)
        if st is not None:
            self._take(st, sample)

    def _take(self, st: AssetAnomaly, sample: Sample, learn_only: bool = False) -> None:
        ts = to_micros(sample.ts)
        self._still(st, ts, sample.ts)  # every record of the asset moves its clock on: states and counters too
        if st.lags:
            self._advance_lags(st, ts)
        if sample.signal == st.asset.spec.state:
            self._state(st, str(sample.value), ts)
            return
        if sample.signal not in st.candidates or sample.quality is Quality.BAD:
            return
        value = sample.value
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            return
        value = float(value)
        st.latest[sample.signal] = value
        if sample.signal in st.lags and sample.signal not in st.lag_x:
            st.lag_x[sample.signal] = st.lags[sample.signal].start(value)
        st.seen[sample.signal] = ts
        run = st.runs.setdefault(sample.signal, Run())
        if value != run.value:
            run.value, run.still_us = value, 0
            if sample.signal in st.stuck:
                st.stuck.discard(sample.signal)
                self._sensor(st, sample.signal, sample.ts, False, "stuck", None)
        # what settles after a stop is a machine's heat: its other signals are searched for spikes at once
        if st.producing() and (ts >= st.scored_from or sample.signal not in st.rate) and not learn_only:
            self._spike(st, sample.signal, value, ts, sample.ts)
        if not st.settled and sample.signal not in st.signals:
            st.signals = [s for s in st.candidates if s in st.latest]
            st.baseline, st.next_tick, st.last_row = [], 0, -1
            st.row_ticks = []  # the trace goes on: a signal that joins late does not change what the others did
        if ts < st.next_tick or len(st.latest) < len(st.signals) or not st.signals:
            return
        tick = ts - ts % self.period_us
        st.next_tick = tick + self.period_us
        if st.model is None and self.config.thermal_lag and st.rate:  # stops included: the lag is learned from them
            st.trace.append(tick, st.producing(), st.latest)
        if not st.producing():
            return
        if ts < st.scored_from or any(st.seen.get(s, -1) <= st.run_start for s in st.signals
                                      if s not in st.context and s not in st.rate):
            return  # a value still from before the run (read while the machine stood) is not this run's
        self._row(st, tick, sample.ts, learn_only)

    def _state(self, st: AssetAnomaly, state: str, ts: int) -> None:
        was_producing = st.state is not None and st.producing()
        st.state = state
        if state == AssetState.PRODUCING and not was_producing:
            # a run begins: after a long stop (or at the first state seen) the machine settles first
            long_stop = st.stopped_at == 0 or ts - st.stopped_at >= self.settle_after_us
            # what settles is a machine's heat (its rate signals): one without them is watched at once
            # a short stop inside that settling ends none of it (a tool change, then a minute's jam: the new
            # tool's wear is still unreported, and the chart must still start afresh)
            st.scored_from = max(ts + self.settle_us if long_stop and st.rate else ts, st.scored_from)
            st.run_start = ts
            st.afresh = long_stop or st.afresh  # not yet used by a row
            st.last_row = -1
            # readings from before a long stop are no neighbours of these (a short one keeps them: a conveyor stops
            # between parts), nor are a thermal signal's from before any stop (a spindle cools by a degree in a
            # minute's jam, and its readings straddling the spike limit back at work looked like spikes)
            for signal, counter in st.spikes.items():
                if long_stop or signal in st.rate:
                    counter.restart()
        elif state != AssetState.PRODUCING and was_producing:
            st.stopped_at = ts
            for counter in st.spikes.values():
                counter.interrupt()

    def _row(self, st: AssetAnomaly, tick: int, at: datetime, learn_only: bool = False) -> None:
        contiguous = st.last_row >= 0 and tick - st.last_row <= 2 * self.period_us
        row = []
        for s in st.signals:
            v = st.latest[s]
            lag = st.lags.get(s)
            if lag is not None:
                x = st.lag_x.get(s)
                v -= lag.expected(lag.start(v) if x is None else x)
            elif s in st.rate:  # its level carried on across a gap, so the chart's step there is 0
                if not contiguous and s in st.previous:
                    st.offset[s] = st.previous[s] - v
                v += st.offset.get(s, 0.0)
                st.previous[s] = v
            row.append(v)
        st.last_row = tick
        if st.model is None:
            if not st.baseline:
                st.baseline_from = at
            st.baseline.append(row)
            st.row_ticks.append(tick)
            if len(st.baseline) >= self.config.baseline_rows and not learn_only:
                self.fit(st, np.asarray(st.baseline), st.baseline_from or at, at, "live baseline")
            return
        if st.rows == 0 or st.afresh:  # the model's first row here (it may come from a file), or a run after a
            st.model.restart(np.asarray(row), afresh=st.afresh)  # long stop (a repair): no step from before
            st.afresh, st.over = False, 0
        scores, contrib = st.model.update_explained(np.asarray([row]))
        st.score, st.rows = float(scores[0]), st.rows + 1
        threshold = float(st.model.threshold_)
        st.over = st.over + 1 if st.score > threshold else 0
        st.under = st.under + 1 if st.score < self.config.off_ratio * threshold else 0
        if st.over >= self.config.on_delay_rows:
            alarm = explain(st.score, threshold, st.signals, contrib[0])
            top = [{"signal": n, "share": s} for n, s in alarm.contributions[:3]]
            st.last_alarm = {"ts": at, "score": st.score, "severity": alarm.severity, "signals": top}
            st.mewma_on = True
            parts = {s: float(c) for s, c in zip(st.signals, contrib[0], strict=True) if s not in st.context}
            self._tell(st, at, True, st.score, threshold, list(alarm.top(3)), parts)
        elif st.under >= self.config.off_delay_rows or (st.under and not st.mewma_on):
            st.mewma_on = False
            if st.separate or not (st.stuck or st.spiking):  # the sink knows whether an alarm is open to end
                self._tell(st, at, False, st.score, threshold, [])
        if st.separate and not st.sensors_told and not (st.stuck or st.spiking):
            st.sensors_told = True  # a sensor alert left open when the twin stopped ends here
            self._sensor(st, "", at, False, "", None)

    def _advance_lags(self, st: AssetAnomaly, ts: int) -> None:
        """Each thermal lag follows what the machine did since the last record: producing or standing."""
        if ts <= st.lag_at:
            return
        dt_s, producing = (ts - st.lag_at) / US if st.lag_at else 0.0, st.producing()
        st.lag_at = ts
        for s, x in st.lag_x.items():
            st.lag_x[s] = st.lags[s].advance(x, dt_s, producing)

    def _still(self, st: AssetAnomaly, ts: int, at: datetime) -> None:
        """Producing time since each signal last changed; longer than ever in the baseline, the sensor is stuck.
        A spiking sensor recovers after a window without a spike."""
        before, st.accounted_us = st.accounted_us, max(st.accounted_us, ts)
        for signal in list(st.spiking):
            times = st.spike_times[signal]
            if not times or times[-1] <= ts - self.spike_window_us:
                st.spiking.discard(signal)
                self._sensor(st, signal, at, False, "spikes", None)
        dt = ts - before
        if not before or dt <= 0 or not st.producing():
            return
        learning = not st.stuck_limits  # learned over as much producing time as the baseline's rows span
        if learning or not st.spike_limits:
            st.stuck_learned_us += dt
        for signal in st.signals:
            run = st.runs.get(signal)
            if run is None:
                continue
            run.still_us += dt
            if learning:
                run.longest_us = max(run.longest_us, run.still_us)
                continue
            limit = st.stuck_limits.get(signal)
            if limit is not None and run.still_us > limit and signal not in st.stuck:
                st.stuck.add(signal)
                st.last_alarm = {"ts": at, "score": run.still_us / US, "severity": "stuck",
                                 "signals": [{"signal": signal, "share": 1.0}]}
                self._sensor(st, signal, at, True, "stuck", run.still_us / US, limit / US)
        if (learning or not st.spike_limits) and st.stuck_learned_us >= self.config.baseline_rows * self.period_us:
            self._learn_limits(st)

    def _spike(self, st: AssetAnomaly, signal: str, value: float, ts: int, at: datetime) -> None:
        counter = st.spikes.get(signal)
        if counter is None:
            counter = st.spikes[signal] = SpikeCounter()
        limit = st.spike_limits.get(signal, self._spike_floor()) if st.spike_limits else None
        if not counter.update(value, limit):
            return
        times = st.spike_times.setdefault(signal, deque())
        times.append(ts)
        while times[0] <= ts - self.spike_window_us:
            times.popleft()
        if len(times) >= self.config.spike_count and signal not in st.spiking:
            st.spiking.add(signal)
            st.last_alarm = {"ts": at, "score": float(len(times)), "severity": "spikes",
                             "signals": [{"signal": signal, "share": 1.0}]}
            self._sensor(st, signal, at, True, "spikes", float(len(times)), float(self.config.spike_count))

    def _spike_floor(self) -> float:
        return self.config.spike_min_z * self.config.threshold_margin

    def _learn_limits(self, st: AssetAnomaly) -> None:
        """Stuck and spike limits from the baseline's producing time (those a model file brought are kept)."""
        margin = self.config.threshold_margin
        if not st.stuck_limits:
            st.stuck_limits = {s: max(round(self.config.stuck_min_s * US),
                                      round(margin * st.runs[s].longest_us if s in st.runs else 0))
                               for s in st.signals}
        if not st.spike_limits:
            st.spike_limits = {s: max(self._spike_floor(), margin * st.spikes[s].largest_ if s in st.spikes else 0)
                               for s in st.candidates}

    def _sensor(self, st: AssetAnomaly, signal: str, at: datetime, on: bool, fault: str, value: float | None,
                limit: float | None = None) -> None:
        """A sensor reads untrue (or true again): to the sensor sink, or else as the asset's anomaly alarm."""
        if st.separate:
            if self.sensor_sink is not None:
                self.sensor_sink(st.asset.path, signal, at, on, fault, value)
        elif on:
            self._tell(st, at, True, value, limit, [signal])
        elif not st.stuck and not st.spiking and not st.mewma_on:
            self._tell(st, at, False, None, None, [])

    def _tell(self, st: AssetAnomaly, at: datetime, on: bool, score: float | None, threshold: float | None,
              signals: list[str], parts: dict[str, float] | None = None) -> None:
        if self.sink is not None:
            self.sink(st.asset.path, at, on, score, threshold, signals, parts)

    # ---- learning ----------------------------------------------------------------------------------------------

    def _fit_lags(self, st: AssetAnomaly, learned: AssetAnomaly, rows: np.ndarray) -> np.ndarray:
        """Thermal lags for the rate signals that one explains, learned over the trace; the baseline rows then
        hold those signals' departures from their lags (the rows the trace does not cover are left out)."""
        st.lags, st.lag_x = {}, {}
        rate = [s for s in st.signals if s in st.rate]
        if not self.config.thermal_lag or not rate or len(learned.row_ticks) != len(rows):
            return rows
        rows = rows.astype(np.float64, copy=True)
        keep = np.ones(len(rows), bool)
        for s in rate:
            ticks, producing, values = learned.trace.of(s)
            if len(ticks) < 20:
                continue
            t_s = (ticks - ticks[0]) / US
            lag = ThermalLag().fit(t_s, producing, values)
            if not lag.explains():
                continue
            residual, x_end = lag.residuals(t_s, producing, values)
            at = {int(t): i for i, t in enumerate(ticks)}
            keep &= np.array([t in at for t in learned.row_ticks])
            rows[:, st.signals.index(s)] = residual[[at.get(t, 0) for t in learned.row_ticks]]
            st.lags[s], st.lag_x[s] = lag, x_end
            st.lag_at = int(ticks[-1])
        if learned is not st:  # trained on history: the live state starts from the next reading
            st.lag_x, st.lag_at = {}, 0
        return rows[keep]

    def fit(self, st: AssetAnomaly, rows: np.ndarray, start: datetime, end: datetime, source: str,
            learned: AssetAnomaly | None = None) -> None:
        rows = self._fit_lags(st, learned or st, rows)
        ctx = [n for n in st.signals if n in st.context]
        if len(ctx) == len(st.signals):
            ctx = []
        # the largest healthy score with a margin: a quantile of a few hundred autocorrelated scores is not
        # an extreme-value estimate, and a plant will not tolerate alerts every hour
        rate = [s for s in st.signals if s in st.rate and s not in st.lags]
        # a thermal residual wanders a little as the line's pattern of stops changes, which one hour of baseline
        # does not show: a persistent departure of the lag's own noise counts as one standard deviation
        tolerances = {s: lag.rms_ for s, lag in st.lags.items()}
        model = Mewma(alpha=self.config.alpha, rate_signals=rate, context_signals=ctx, burn_in=min(50, len(rows) // 4),
                      tolerances=tolerances or None,
                      threshold=QuantileThreshold(q=1.0, margin=self.config.threshold_margin))
        model.fit({name: rows[:, i] for i, name in enumerate(st.signals)})
        if not st.stuck_limits or not st.spike_limits:
            self._learn_limits(st)
        st.model, st.baseline, st.score, st.rows, st.settled = model, [], None, 0, True
        st.row_ticks, st.trace = [], ThermalTrace(())
        st.trained = {"rows": len(rows), "from": start, "to": end, "source": source}
        if st.lags:  # what each thermal lag learned, for an engineer to check against the machine's data sheet
            st.trained["thermal"] = {s: {"tau_s": round(lag.tau_s_, 1), "ambient": round(lag.ambient_, 3),
                                         "rise": round(lag.rise_, 3), "rms": round(lag.rms_, 4)}
                                     for s, lag in st.lags.items()}
        log.info("anomaly model of %s trained on %d rows (%s)", st.asset.path, len(rows), source)
        if self.config.model_dir is not None:
            meta = metadata_for(model, st.asset.path, len(rows), start.isoformat(), end.isoformat())
            save_model(self._path(st), model, replace(meta, stuck_limits=dict(st.stuck_limits),
                                                      spike_limits=dict(st.spike_limits),
                                                      thermal={s: lag.params() for s, lag in st.lags.items()}))

    def train_from(self, asset: str, samples: Iterable[Sample]) -> dict[str, Any]:
        """Retrain one asset on a historian window: its samples made into rows as the live stream makes them."""
        st = self.assets[asset]
        samples = sorted(samples, key=lambda s: s.ts)
        if not st.settled:  # the signals this window holds
            present = {s.signal for s in samples if isinstance(s.value, int | float) and not isinstance(s.value, bool)}
            st.signals = [n for n in st.candidates if n in present]
        shadow = AssetAnomaly(st.asset, st.signals, candidates=st.signals, settled=True, rate=st.rate,
                              context=st.context, trace=ThermalTrace(st.rate))
        for s in samples:
            self._take(shadow, s, learn_only=True)
        rows = shadow.baseline
        if len(rows) < 20 or shadow.baseline_from is None:
            raise ValueError(f"{asset}: only {len(rows)} complete rows in that window; need at least 20")
        st.runs = shadow.runs
        self.fit(st, np.asarray(rows), shadow.baseline_from, samples[-1].ts, "historian", learned=shadow)
        return st.status(self.config.baseline_rows)
