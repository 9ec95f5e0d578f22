"""The `alerts:` section of the twin's configuration: rules, notification targets, escalation, flood limits.

Every rule names the assets it watches by ISA-95 path globs, a severity, an optional priority and a message
template (``str.format`` fields checked here, so a typo fails at start-up rather than at the first alert).
"""

from __future__ import annotations

import string
from enum import IntEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plantmodel import mqtt


class Severity(IntEnum):
    info = 0
    warning = 1
    critical = 2


SeverityName = Literal["info", "warning", "critical"]
PriorityName = Literal["low", "medium", "high", "urgent"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Fields every message template may use; each rule type adds its own.
COMMON_FIELDS = frozenset({"asset", "asset_name", "rule", "severity"})


class _Rule(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$",
                    description="unique; alerts are keyed by rule and asset")
    assets: list[str] = Field(default_factory=lambda: ["*"], min_length=1, description="ISA-95 path globs")
    severity: SeverityName = "warning"
    priority: PriorityName | None = None
    message: str = ""
    escalate: bool = Field(True, description="whether the escalation steps apply to this rule's alerts")
    escalate_to: SeverityName | None = Field(
        None, description="the highest severity escalation may raise its alerts to; default: the highest the rule "
                          "itself gives (escalation re-notifies, it does not re-rate an alert: ISA-18.2)")

    fields: ClassVar[frozenset[str]] = frozenset()  # the template fields of this rule type (a class constant)

    @field_validator("message")
    @classmethod
    def _template(cls, v: str) -> str:
        allowed = COMMON_FIELDS | cls.fields
        try:
            names = {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(v) if f}
        except ValueError as exc:
            raise ValueError(f"not a valid template: {exc}") from None
        if "" in names or any(n.isdigit() for n in names):
            raise ValueError("template fields must be named, e.g. {asset}")
        if names - allowed:
            raise ValueError(f"unknown field(s) {sorted(names - allowed)}; this rule type offers {sorted(allowed)}")
        return v


class ThresholdRule(_Rule):
    """A signal over `high` or under `low`, for `on_delay_s` of source time; clears inside the deadband."""

    type: Literal["threshold"]
    signal: str = Field(min_length=1)
    high: float | None = None
    low: float | None = None
    deadband: float = Field(0.0, ge=0, description="clears only this far back inside the limit (hysteresis)")
    on_delay_s: float = Field(0.0, ge=0, description="the limit must be crossed this long before an alert")
    off_delay_s: float = Field(0.0, ge=0, description="back inside the deadband this long before it clears")
    message: str = "{asset_name}: {signal} {value:g} {unit} is {direction} its limit {limit:g}"
    fields: ClassVar[frozenset[str]] = frozenset({"signal", "value", "unit", "limit", "direction"})

    @model_validator(mode="after")
    def _limits(self) -> ThresholdRule:
        if self.high is None and self.low is None:
            raise ValueError("give high, low or both")
        if self.high is not None and self.low is not None and self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class AnomalyRule(_Rule):
    """The twin's anomaly monitor judged an asset's behaviour unusual (its own on-delay and hysteresis)."""

    type: Literal["anomaly"]
    min_ratio: float = Field(1.0, ge=1, description="alert only when the score is at least this × the threshold")
    critical_ratio: float | None = Field(3.0, ge=1, description="critical from this × the threshold")
    rise_factor: float | None = Field(3.0, gt=1, description="an open alert sounds again when its score reaches "
                                      "this × its typical peak (the median of each minute's peak) over the "
                                      "`rise_lookback_s` before the last `rise_recent_s` (a new fault on a machine "
                                      "that a slow degradation already holds in alarm); null: only a new leading "
                                      "signal sounds it again")
    rise_per_signal: bool = Field(True, description="also when one signal's own part of the score rises so, and "
                                  "reaches the threshold alone (a drift of spindle load beside a worn bearing)")
    rise_recent_s: float = Field(1800.0, gt=0, description="how fast a rise must be to be news (scored seconds)")
    rise_lookback_s: float = Field(14_400.0, gt=0, description="how far back its peaks are remembered (scored "
                                   "seconds: the time the machine stands still does not count)")
    message: str = "{asset_name}: unusual behaviour, driven by {signals}"
    fields: ClassVar[frozenset[str]] = frozenset({"score", "threshold", "ratio", "signals", "risen", "risen_signal"})

    @model_validator(mode="after")
    def _rise(self) -> AnomalyRule:
        if self.rise_lookback_s <= self.rise_recent_s:
            raise ValueError(f"rise_lookback_s ({self.rise_lookback_s}) must exceed rise_recent_s "
                             f"({self.rise_recent_s})")
        return self


class SensorRule(_Rule):
    """A sensor on an asset no longer reads true: frozen (stuck) or spiking, as the anomaly monitor finds per signal.

    Its own alert beside the asset's anomaly alert: a sensor that fails while the machine's behaviour is already
    unusual (a worn bearing) is news to the operator, not one more reading of the open alert."""

    type: Literal["sensor"]
    message: str = "{asset_name}: {signals} {fault}"
    fields: ClassVar[frozenset[str]] = frozenset({"signals", "fault", "signal"})


class RulRule(_Rule):
    """Remaining useful life under a horizon: the trend of a wear signal extrapolated to its failure level."""

    type: Literal["rul"]
    signal: str = Field(min_length=1, description="a health indicator that rises towards failure (e.g. tool_wear)")
    failure_threshold: float
    horizon_s: float = Field(gt=0, description="alert when the short end of the RUL interval is within this")
    window_s: float = Field(1800.0, gt=0, description="the trend is fitted over this much source time")
    every_s: float = Field(60.0, gt=0, description="re-estimate this often (source time)")
    min_points: int = Field(10, ge=3)
    model: Literal["linear", "exponential"] = "linear"
    level: float = Field(0.9, gt=0, lt=1, description="confidence level of the RUL interval")
    min_lives: int = Field(5, ge=1, description="completed lives (of any asset of the rule) whose errors calibrate "
                                                "the interval before it replaces the trend fit's own band")
    message: str = ("{asset_name}: {signal} reaches {failure_threshold:g} in about {rul_h:.1f} h "
                    "(at worst {low_h:.1f} h)")
    fields: ClassVar[frozenset[str]] = frozenset({"signal", "rul_s", "low_s", "high_s", "rul_h", "low_h", "high_h",
                                                  "calibrated", "failure_threshold", "value"})


class MachineAlarmRule(_Rule):
    """A CNC's or robot's own alarm (its `alarm_code` signal, or alarm events), active until it reads 'none'."""

    type: Literal["machine_alarm"]
    codes: list[str] = Field(default_factory=lambda: ["*"], description="alarm code globs")
    severities: dict[str, SeverityName] = Field(default_factory=dict, description="alarm code -> severity")
    on_delay_s: float = Field(0.0, ge=0, description="the alarm must last this long (source time) before an alert: "
                                                     "a stop that ends by itself sooner is a minor stop")
    message: str = "{asset_name}: machine alarm {code}"
    fields: ClassVar[frozenset[str]] = frozenset({"code"})


class OeeRule(_Rule):
    """OEE of a station or a line under target in the current shift, once enough of the shift has passed."""

    type: Literal["oee"]
    target: float = Field(gt=0, le=1)
    deadband: float = Field(0.02, ge=0, description="clears at target + deadband")
    min_elapsed_s: float = Field(1800.0, ge=0, description="no judgement before this much of the shift's planned time "
                                                          "has a known state")
    every_s: float = Field(60.0, gt=0, description="judged this often (plant time): OEE moves slowly")
    severity: SeverityName = "info"
    message: str = "{asset_name}: OEE {oee:.1%} this shift is under its target {target:.0%}"
    fields: ClassVar[frozenset[str]] = frozenset({"oee", "target", "window"})


class SpcRule(_Rule):
    """A control-chart run rule violated by a quality characteristic (each violation is one occurrence)."""

    type: Literal["spc"]
    rules: list[Literal["nelson1", "nelson2", "nelson3", "nelson4", "nelson5", "nelson6", "nelson7", "nelson8",
                        "ewma"]] = Field(default_factory=list,
                                         description="Nelson rules (and 'ewma', the EWMA chart) to alert on; "
                                                     "empty: all")
    message: str = "{asset_name}: {signal}: {description}"
    fields: ClassVar[frozenset[str]] = frozenset({"signal", "spc_rule", "description", "value"})


def max_severity(rule: _Rule) -> Severity:
    """The highest severity a rule's alerts may have: its own, any higher one its conditions set (an anomaly's
    critical ratio, a machine alarm's code), or its `escalate_to`."""
    top = Severity[rule.severity]
    if isinstance(rule, AnomalyRule) and rule.critical_ratio is not None:
        top = Severity.critical
    if isinstance(rule, MachineAlarmRule):
        top = max([top, *(Severity[s] for s in rule.severities.values())])
    if rule.escalate_to is not None:
        top = max(top, Severity[rule.escalate_to])
    return top


Rule = Annotated[ThresholdRule | AnomalyRule | SensorRule | RulRule | MachineAlarmRule | OeeRule | SpcRule,
                 Field(discriminator="type")]


def _default_rules() -> list[Rule]:
    return [AnomalyRule(type="anomaly", id="anomaly"), SensorRule(type="sensor", id="sensor"),
            SpcRule(type="spc", id="spc"), MachineAlarmRule(type="machine_alarm", id="machine-alarm")]


class WebhookTarget(_Strict):
    name: str = Field(min_length=1)
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://", description="receives each notification as an HTTP POST of JSON")
    headers_env: dict[str, str] = Field(default_factory=dict,
                                        description="header -> environment variable holding its value (tokens)")
    timeout_s: float = Field(5.0, gt=0)
    min_severity: SeverityName = "info"
    escalation_only: bool = Field(False, description="only escalations reach it (an on-call pager)")


class MqttTarget(_Strict):
    name: str = Field(min_length=1)
    type: Literal["mqtt"]
    broker: mqtt.BrokerConfig | None = Field(None, description="default: the twin's own broker")
    topic: str = Field("factory-twin/alerts/{severity}/{asset}", description="template: asset, severity, rule, id")
    qos: Literal[0, 1, 2] = 1
    retain: bool = False
    min_severity: SeverityName = "info"
    escalation_only: bool = False

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str) -> str:
        names = {f for _, f, _, _ in string.Formatter().parse(v) if f}
        if names - {"asset", "severity", "rule", "id"}:
            raise ValueError(f"unknown field(s) {sorted(names - {'asset', 'severity', 'rule', 'id'})}")
        if "#" in v or "+" in v:
            raise ValueError("a topic to publish to has no wildcards")
        return v


Target = Annotated[WebhookTarget | MqttTarget, Field(discriminator="type")]


class EscalationStep(_Strict):
    after_s: float = Field(gt=0, description="unacknowledged (and not shelved) this long since it became active")
    severity: SeverityName | None = Field(None, description="raise the alert to this severity (never lowers it)")
    notify: list[str] = Field(default_factory=list, description="targets told; empty: every target")


class RetryConfig(_Strict):
    attempts: int = Field(4, ge=1, description="tries per notification, the first included")
    backoff_s: float = Field(0.5, gt=0, description="first wait; doubles each retry")
    backoff_max_s: float = Field(30.0, gt=0)


class FloodConfig(_Strict):
    """ISA-18.2 flood: more annunciations than an operator can handle; individual notifications stop."""

    window_s: float = Field(600.0, gt=0)
    max_notifications: int = Field(10, ge=1, description="per window; beyond this the flood state begins")
    bypass_severity: SeverityName | None = Field("critical", description="still notified during a flood")


class AlertsConfig(_Strict):
    rules: list[Rule] = Field(default_factory=_default_rules)
    notify: list[Target] = Field(default_factory=list)
    escalation: list[EscalationStep] = Field(default_factory=list, description="in order of after_s")
    retry: RetryConfig = RetryConfig()
    flood: FloodConfig = FloodConfig()
    max_shelve_s: float = Field(8 * 3600.0, gt=0, description="the longest an alert may be shelved (one shift)")
    auto_close_s: float | None = Field(None, gt=0, description="close cleared, acknowledged alerts after this; "
                                       "none: someone closes them")
    tick_s: float = Field(1.0, gt=0, description="how often shelves, escalations and OEE targets are checked")
    queue: int = Field(1000, ge=1, description="notifications waiting per target; beyond this they are dropped")

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"rules: ids must be unique, repeated: {dup}")
        names = [t.name for t in self.notify]
        if len(set(names)) != len(names):
            raise ValueError("notify: target names must be unique")
        for i, step in enumerate(self.escalation):
            unknown = set(step.notify) - set(names)
            if unknown:
                raise ValueError(f"escalation[{i}].notify: no target named {sorted(unknown)}")
            if i and step.after_s <= self.escalation[i - 1].after_s:
                raise ValueError(f"escalation[{i}].after_s: steps must come in increasing after_s")
        return self
