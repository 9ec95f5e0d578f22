"""Rules turn the twin's data into conditions: an alert's cause is present, or gone, at a source instant.

Each watch keeps only the timers its rule needs (on-delay, off-delay, the trend window); whether an alert is
already active is asked of the engine, which restores it from the database after a restart, so a restart
neither re-raises nor loses an alert.
"""

from __future__ import annotations

import fnmatch
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from analytics.anomaly.rise import FreshRise
from analytics.maintenance import TrendRul, maintenance_alert, remaining_useful_life
from plantmodel.plant import Asset, PlantConfig
from plantmodel.telemetry import Event, EventKind, Quality, Sample, from_micros, to_micros
from twin.alerting.config import (
    AnomalyRule,
    MachineAlarmRule,
    OeeRule,
    RulRule,
    SensorRule,
    Severity,
    SpcRule,
    ThresholdRule,
)

ALARM_SIGNAL = "alarm_code"
NO_ALARM = ("none", "", "0")
IsActive = Callable[[str, str], bool]  # (rule id, asset) -> whether its alert's condition is present


@dataclass(frozen=True, slots=True)
class Condition:
    """The rule's cause is present (or gone) on the asset at `ts`; `event`: a one-off occurrence."""

    rule: str
    asset: str
    present: bool
    ts: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    value: float | str | None = None
    severity: Severity | None = None  # overrides the rule's
    event: bool = False


def matches(path: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, g) for g in globs)


def _number(sample: Sample) -> float | None:
    v = sample.value
    if sample.quality is Quality.BAD or isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


class ThresholdWatch:
    def __init__(self, rule: ThresholdRule, assets: list[Asset]) -> None:
        self.rule = rule
        self.assets = {a.path for a in assets if matches(a.path, rule.assets) and a.signal(rule.signal)}
        self._since: dict[str, int] = {}  # asset -> when the pending change (raise or clear) began, µs

    def observe(self, sample: Sample, active: IsActive) -> Condition | None:
        if sample.signal != self.rule.signal or sample.asset not in self.assets:
            return None
        v = _number(sample)
        if v is None:
            return None
        r, ts = self.rule, to_micros(sample.ts)
        if active(r.id, sample.asset):
            inside = ((r.high is None or v <= r.high - r.deadband) and (r.low is None or v >= r.low + r.deadband))
            delay = r.off_delay_s
        else:
            inside = not ((r.high is not None and v > r.high) or (r.low is not None and v < r.low))
            delay = r.on_delay_s
        if inside != active(r.id, sample.asset):  # no change pending
            self._since.pop(sample.asset, None)
            return None
        since = self._since.setdefault(sample.asset, ts)
        if ts - since < delay * 1_000_000:
            return None
        self._since.pop(sample.asset, None)
        high = r.high is not None and v > r.high
        limit = r.high if high or r.low is None else r.low
        return Condition(r.id, sample.asset, not inside, sample.ts, value=v,
                         fields={"signal": r.signal, "value": v, "unit": sample.unit, "limit": limit,
                                 "direction": "over" if high else "under" if not inside else "back inside"})


class MachineAlarmWatch:
    """A machine's own alarm; with an on-delay, only one that lasts (a stop that ends by itself within it, a
    fleeting alarm, is no call for anyone: it shows in the stops and OEE). Judged on each record of the asset, in
    source time."""

    def __init__(self, rule: MachineAlarmRule, assets: list[Asset]) -> None:
        self.rule = rule
        self.assets = {a.path for a in assets if matches(a.path, rule.assets)}
        self._pending: dict[str, tuple[str, int, datetime]] = {}  # asset -> (code, since µs, since)

    def observe(self, record: Sample | Event, active: IsActive) -> Condition | None:
        if record.asset not in self.assets:
            return None
        code = self._code(record)
        pending = self._pending.get(record.asset)
        if code is None:
            if pending is not None and to_micros(record.ts) - pending[1] >= self.rule.on_delay_s * 1_000_000:
                del self._pending[record.asset]
                return self._condition(record.asset, pending[0], True, record.ts)
            return None
        r = self.rule
        present = code.strip().lower() not in NO_ALARM and matches(code, r.codes)
        if present and r.on_delay_s > 0 and not active(r.id, record.asset):
            if pending is None or pending[0] != code:
                self._pending[record.asset] = (code, to_micros(record.ts), record.ts)
            return None
        self._pending.pop(record.asset, None)
        if not present and not active(r.id, record.asset):
            return None
        return self._condition(record.asset, code, present, record.ts)

    def _condition(self, asset: str, code: str, present: bool, ts: datetime) -> Condition:
        r = self.rule
        sev = Severity[r.severities[code]] if present and code in r.severities else None
        return Condition(r.id, asset, present, ts, value=code if present else None, fields={"code": code},
                         severity=sev)

    @staticmethod
    def _code(record: Sample | Event) -> str | None:
        """The alarm code a record reports ('none' when it clears), or None when it reports no alarm state."""
        if isinstance(record, Event):
            if record.kind is not EventKind.ALARM:
                return None
            return str(record.data.get("alarm_code", "")) if record.data.get("active", True) else "none"
        if record.signal == ALARM_SIGNAL and record.quality is not Quality.BAD:
            return str(record.value)
        return None


class SpcWatch:
    def __init__(self, rule: SpcRule) -> None:
        self.rule = rule

    def violation(self, asset: str, signal: str, spc_rule: str, description: str, value: float,
                  ts: datetime) -> Condition | None:
        r = self.rule
        if not matches(asset, r.assets) or (r.rules and spc_rule not in r.rules):
            return None
        return Condition(r.id, asset, True, ts, value=value, event=True,
                         fields={"signal": signal, "spc_rule": spc_rule, "description": description, "value": value})


class AnomalyWatch:
    """An asset's anomaly alarm as one alert. While it is open, one more occurrence (annunciated again once
    acknowledged) is news: a signal that comes to drive it and had not driven it before (a sensor drifting on a
    machine whose worn bearing keeps the alert open), or a score that rises anew, `rise_factor` × above its peaks
    of the hours before (a coolant loss on that machine, whose spindle temperature already led the alert:
    analytics.anomaly.rise)."""

    def __init__(self, rule: AnomalyRule) -> None:
        self.rule = rule
        self.drivers: dict[str, set[str]] = {}  # asset -> the signals that led its open alert so far
        self.rises: dict[str, FreshRise] = {}  # asset -> its open alert's score, watched for a fresh rise
        self.part_rises: dict[str, dict[str, FreshRise]] = {}  # asset -> signal -> its part of that score

    def score(self, asset: str, ts: datetime, present: bool, score: float | None, threshold: float | None,
              signals: list[str], active: IsActive, parts: dict[str, float] | None = None) -> Condition | None:
        r = self.rule
        if not matches(asset, r.assets):
            return None
        ratio = score / threshold if score is not None and threshold else None
        if present and ratio is not None and ratio < r.min_ratio:
            present = False
        if not present:
            self.drivers.pop(asset, None)
            self.rises.pop(asset, None)
            self.part_rises.pop(asset, None)
            return Condition(r.id, asset, False, ts) if active(r.id, asset) else None
        crit = r.critical_ratio is not None and ratio is not None and ratio >= r.critical_ratio
        seen = self.drivers.get(asset)
        if seen is None or not active(r.id, asset):  # a new episode (or one open before a restart): no news yet
            seen = self.drivers[asset] = set()
            self.rises.pop(asset, None)
            self.part_rises.pop(asset, None)
        new_driver = bool(signals) and bool(seen) and signals[0] not in seen
        seen.update(signals[:1])
        risen = None
        if r.rise_factor is not None and ratio is not None:
            rise = self.rises.get(asset)
            if rise is None:
                rise = self.rises[asset] = FreshRise(r.rise_factor, r.rise_recent_s, r.rise_lookback_s)
            if rise.update(ts.timestamp(), ratio) and rise.reference_:
                risen = ratio / rise.reference_
        risen_signal = None
        if r.rise_factor is not None and r.rise_per_signal and parts and threshold:
            # each signal's own part, floored at threshold / factor: a rise must reach the threshold on its own
            floor = threshold / r.rise_factor
            mine = self.part_rises.setdefault(asset, {})
            for name, part in parts.items():
                watch = mine.get(name)
                if watch is None:
                    watch = mine[name] = FreshRise(r.rise_factor, r.rise_recent_s, r.rise_lookback_s)
                if watch.update(ts.timestamp(), max(part, floor)) and risen_signal is None:
                    risen_signal = name
        return Condition(r.id, asset, True, ts, value=score, severity=Severity.critical if crit else None,
                         event=new_driver or risen is not None or risen_signal is not None,
                         fields={"score": score, "threshold": threshold, "ratio": ratio,
                                 "signals": ", ".join(signals), "risen": risen, "risen_signal": risen_signal})


class SensorWatch:
    """The sensors of each asset that read untrue now: the first raises the alert, each further one is an occurrence
    (annunciated again once acknowledged), the last to recover clears it."""

    def __init__(self, rule: SensorRule) -> None:
        self.rule = rule
        self.faulty: dict[str, dict[str, str]] = {}  # asset -> signal -> fault

    def covers(self, asset: str) -> bool:
        return matches(asset, self.rule.assets)

    def report(self, asset: str, signal: str, ts: datetime, present: bool, fault: str, value: float | None,
               active: IsActive) -> Condition | None:
        """`signal` "" with `present` False: every sensor of the asset reads true (clears an alert left open)."""
        r = self.rule
        if not self.covers(asset):
            return None
        now = self.faulty.setdefault(asset, {})
        joined = present and signal not in now
        if present:
            now[signal] = fault
        else:
            now.pop(signal, None)
        if not now:
            return Condition(r.id, asset, False, ts) if active(r.id, asset) else None
        if not present:
            return None  # one recovered, others still faulty: the alert stays as it is
        names = ", ".join(sorted(now))
        faults = ", ".join(sorted(set(now.values())))
        return Condition(r.id, asset, True, ts, value=value, event=joined and active(r.id, asset),
                         fields={"signals": names, "fault": faults, "signal": signal})


#: A renewal from within this share of the failure level ends a life there (a tool changed at the end of its life);
#: from lower down, the life was cut short and says nothing about when it would have failed.
END_OF_LIFE_SHARE = 0.05
MAX_PAIRS = 5000  # (estimate, truth) pairs kept for calibration, newest first


@dataclass(slots=True)
class _Trend:
    times: deque[float] = field(default_factory=deque)
    values: deque[float] = field(default_factory=deque)
    next_us: int = 0
    made: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=MAX_PAIRS))  # (when, RUL) this life
    ended: bool = False  # reached the failure level; the next renewal starts a life


class RulWatch:
    """Fits the rule's wear signal over a moving window and judges the RUL's short end (`TrendRul`).

    A drop of more than 5 % of the failure level (a tool change, a repair) starts the window afresh. Every life
    that ends at the failure level (reaching it, or renewed within 5 % of it) turns the estimates made during it
    into (estimate, true RUL) pairs, pooled over the rule's assets; from `min_lives` such lives on, the interval
    is the conformal one calibrated on them instead of the trend fit's own band (which is far too narrow).
    """

    def __init__(self, rule: RulRule, assets: list[Asset]) -> None:
        self.rule = rule
        self.assets = {a.path for a in assets if matches(a.path, rule.assets) and a.signal(rule.signal)}
        self._trends: dict[str, _Trend] = {}
        self.estimates: dict[str, dict[str, Any]] = {}
        self.estimator = TrendRul(rule.failure_threshold, model=rule.model, level=rule.level,
                                  horizon=10 * rule.horizon_s)
        self._pairs: deque[tuple[float, float]] = deque(maxlen=MAX_PAIRS)
        self.lives = 0  # completed lives seen

    def observe(self, sample: Sample, active: IsActive) -> Condition | None:
        r = self.rule
        if sample.signal != r.signal or sample.asset not in self.assets:
            return None
        v = _number(sample)
        if v is None:
            return None
        tr = self._trends.setdefault(sample.asset, _Trend())
        t = to_micros(sample.ts) / 1e6
        if tr.values and v < tr.values[-1] - 0.05 * abs(r.failure_threshold):
            if not tr.ended and tr.values[-1] >= r.failure_threshold - END_OF_LIFE_SHARE * abs(r.failure_threshold):
                self._life_ended(tr, tr.times[-1])
            tr.made.clear()
            tr.ended = False
            tr.times.clear()
            tr.values.clear()
        elif not tr.ended and v >= r.failure_threshold:
            self._life_ended(tr, t)
            tr.ended = True
        tr.times.append(t)
        tr.values.append(v)
        while tr.times and tr.times[0] < t - r.window_s:
            tr.times.popleft()
            tr.values.popleft()
        ts_us = to_micros(sample.ts)
        if ts_us < tr.next_us or len(tr.times) < r.min_points:
            return None
        tr.next_us = ts_us + int(r.every_s * 1_000_000)
        return self.judge(sample.asset, sample.ts, np.asarray(tr.times), np.asarray(tr.values), active)

    def _life_ended(self, tr: _Trend, at: float) -> None:
        if not tr.made:
            return
        self._pairs.extend((est, at - when) for when, est in tr.made)
        tr.made.clear()
        self.lives += 1
        if self.lives >= self.rule.min_lives:
            pairs = np.asarray(self._pairs)
            self.estimator.fit(pairs[:, 0], pairs[:, 1])

    def judge(self, asset: str, ts: datetime, times: np.ndarray, values: np.ndarray,
              active: IsActive) -> Condition | None:
        """One estimate from a window of the wear signal; public so a replay can feed a whole window."""
        r = self.rule
        try:
            raw = remaining_useful_life(times - times[0], values, r.failure_threshold, model=r.model, level=r.level,
                                        horizon=10 * r.horizon_s)
        except ValueError:
            return None
        tr = self._trends.get(asset)
        if tr is not None and not tr.ended and math.isfinite(raw.rul):
            tr.made.append((float(times[-1]), raw.rul))
        est = self.estimator.calibrate(raw)
        self.estimates[asset] = {"at": ts, "rul_s": est.rul, "low_s": est.low, "high_s": est.high,
                                 "calibrated": est.calibrated}
        due = maintenance_alert(asset, est, r.horizon_s)
        if due is None:
            return Condition(r.id, asset, False, ts) if active(r.id, asset) else None
        return Condition(r.id, asset, True, ts, value=round(est.rul, 1),
                         fields={"signal": r.signal, "rul_s": est.rul, "low_s": est.low, "high_s": est.high,
                                 "rul_h": est.rul / 3600, "low_h": est.low / 3600, "high_h": est.high / 3600,
                                 "calibrated": est.calibrated, "failure_threshold": r.failure_threshold,
                                 "value": float(values[-1])})


class OeeWatch:
    """Judged on the clock (OEE changes as time passes, data or not) through a function giving the figure."""

    def __init__(self, rule: OeeRule, plant: PlantConfig, stations: list[str]) -> None:
        self.rule = rule
        lines = [ln.path for ln in plant.lines()]
        self.paths = [p for p in [*lines, *stations] if matches(p, rule.assets)]
        self._window: dict[str, str] = {}
        self._next_us = 0

    def judge(self, oee: Callable[[str], tuple[str, float, float] | None], active: IsActive,
              now_us: int) -> list[Condition]:
        """`oee(path)` gives (window key, OEE, seconds elapsed in the window) or None."""
        r, out = self.rule, list[Any]()
        if now_us < self._next_us:
            return out
        self._next_us = now_us + round(r.every_s * 1_000_000)
        ts = from_micros(now_us)
        for path in self.paths:
            found = oee(path)
            if found is None:
                continue
            key, value, elapsed = found
            on = active(r.id, path)
            if on and self._window.get(path, key) != key:  # its shift is over: the next one is judged afresh
                out.append(Condition(r.id, path, False, ts, fields={"window": key}))
                on = False
            if elapsed < r.min_elapsed_s or not math.isfinite(value):
                continue
            if not on and value < r.target:
                self._window[path] = key
                out.append(Condition(r.id, path, True, ts, value=round(value, 4),
                                     fields={"oee": value, "target": r.target, "window": key}))
            elif on and value >= r.target + r.deadband:
                out.append(Condition(r.id, path, False, ts, value=round(value, 4)))
        return out
