"""The twin service's configuration."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from historian.config import InfluxSettings
from plantmodel import mqtt
from plantmodel.clock import ClockConfig
from plantmodel.config import ConfigError, load_config
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from twin.alerting.config import AlertsConfig
from twin.auth import AuthConfig
from twin.control import ControlConfig
from twin.decisions import DecisionsConfig
from twin.plan_request import JobsConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OeeConfig(_Strict):
    calendar: Path | None = Field(None, description="shift calendar YAML; none: every day is planned, 24/7")
    minor_stop_s: float = Field(120.0, ge=0, description="unplanned stops shorter than this are minor stops")
    startup_s: float = Field(0.0, ge=0, description="scrap this soon after a restart is a start-up (yield) loss")
    clamp_performance: bool = Field(False, description="cap performance at 1 (it is flagged either way)")
    reasons: dict[str, str] = Field(default_factory=dict, description="machine alarm code -> downtime reason")


class SpcCharacteristicConfig(_Strict):
    asset: str = Field(description="ISA-95 path of the asset that measures it")
    signal: str
    lsl: float | None = None
    usl: float | None = None
    target: float | None = Field(None, description="centre line; default: the mean of the baseline")
    sigma: float | None = Field(None, gt=0, description="process σ; default: from the baseline's moving range")
    baseline: int = Field(30, ge=2, description="measurements that set the limits when they are not given")
    ewma_lambda: float = Field(0.1, gt=0, le=1, description="weight of the EWMA chart (spc rule 'ewma')")
    ewma_width: float = Field(4.0, gt=0, description="the EWMA chart's limits, in σ of the EWMA")


class AnomalyConfig(_Strict):
    assets: list[str] = Field(default_factory=lambda: ["*"], description="asset path globs to monitor (assets "
                              "with at least two measurements)")
    signals: dict[str, list[str]] = Field(default_factory=dict,
                                          description="asset type -> signals to use; default: every measurement")
    rate_signals: dict[str, list[str]] = Field(
        default_factory=dict,
        description="asset type -> slow signals whose level follows the machine's history (a spindle's "
                    "temperature after a stop): their steps are watched, not their levels; default: the "
                    "catalogue's `lags` signals")
    context_signals: dict[str, list[str]] = Field(
        default_factory=dict,
        description="asset type -> signals that drift by nature and explain others (a tool's wear raises load, "
                    "power and vibration): not watched, but fitted out of the others; default: the catalogue's "
                    "`drifts` signals")
    thermal_lag: bool = Field(True, description="a rate signal that a first-order lag of the machine's work explains "
                              "over the baseline (a spindle warming while it runs, cooling while it stands) is "
                              "watched as its departure from that lag rather than as its steps: a sensor drifting by "
                              "half a degree shows there, not in the steps")
    period_s: float = Field(1.0, gt=0, description="one row of the latest values per this much source time")
    on_delay_rows: int = Field(3, ge=1, description="rows in a row over the threshold before an alert is raised")
    threshold_margin: float = Field(1.5, ge=1, description="threshold = this × the largest healthy baseline score")
    baseline_rows: int = Field(600, ge=20, description="rows learned live before scoring, when no model exists")
    alpha: float = Field(0.2, gt=0, le=1, description="MEWMA smoothing weight")
    off_ratio: float = Field(0.5, gt=0, lt=1, description="an alert clears under this share of the threshold")
    off_delay_rows: int = Field(60, ge=1, description="rows in a row under off_ratio before an alert clears "
                                                      "(a score hovering at the threshold would chatter)")
    settle_s: float = Field(300.0, ge=0, description="no rows in the first this-long of a run after a stop: a "
                                                     "machine warming up after a breakdown is not an anomaly")
    settle_after_s: float = Field(60.0, ge=0, description="a stop at least this long makes the next run settle first")
    stuck_min_s: float = Field(30.0, gt=0, description="a sensor is stuck when its value stands still for longer than "
                                                       "this while the machine produces (and than the baseline ever "
                                                       "had × threshold_margin)")
    spike_count: int = Field(3, ge=1, description="this many spikes (isolated readings far from their neighbours) "
                                                  "within spike_window_s make a spiking sensor")
    spike_window_s: float = Field(600.0, gt=0, description="spikes are counted over this much source time; a sensor "
                                                           "stops spiking after this long without one")
    spike_min_z: float = Field(8.0, gt=0, description="a spike is at least this many robust standard deviations "
                                                      "from the median of the readings before it (and farther "
                                                      "than the baseline ever went × threshold_margin)")
    model_dir: Path | None = Field(None, description="where trained models are kept (skops files)")


class PeerConfig(_Strict):
    url: str = Field(pattern=r"^https?://", description="base URL of another twin instance, e.g. http://twin-b:8000")
    lines: list[str] = Field(min_length=1, description="line paths (enterprise/site/area/line) that instance owns")


class PartitionConfig(_Strict):
    """Several instances share the plant: each takes its lines' stream through a shared subscription and asks
    its peers for the rest, so any instance answers for every line (see docs/scaling.md)."""

    lines: list[str] = Field(min_length=1, description="line paths (enterprise/site/area/line) this instance owns")
    group: str = Field("factory-twin", pattern=r"^[^/#+$]+$",
                       description="MQTT 5 shared subscription group: $share/<group>/<line>/#")
    peers: list[PeerConfig] = Field(default_factory=list, description="the other instances and the lines they own")
    timeout_s: float = Field(2.0, gt=0, description="wait this long for a peer's answer")


class RateLimitConfig(_Strict):
    expensive: str = Field("120/minute", pattern=r"^\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?$",
                           description="per caller, for historian reads, replay, exports and job submissions")
    concurrent_reads: int = Field(2, ge=1, le=32, description="historian reads, replays and exports in progress at "
                                  "once, all callers together (each in a worker thread); more wait their turn")


class BackfillConfig(_Strict):
    """After a restart or a lost broker connection, the gap in the live feed is read back from the historian
    (twin/backfill.py), so OEE, stops and alerts come out as if the twin had never been away."""

    enabled: bool = True
    warmup_s: float = Field(900.0, ge=0, description="samples from this long before the gap are replayed with "
                            "alerts held back, so the rules' timers (on-delays, trend windows) are warm again")
    max_gap_s: float = Field(86_400.0, gt=0, description="a gap longer than this is filled from its end back only "
                             "this far (samples; OEE and stops always replay today's events)")
    settle_s: float = Field(15.0, ge=0, description="wait at most this long for the historian to hold what the "
                            "live feed already brought (the agent writes both, the historian a moment later)")
    hold_max: int = Field(200_000, ge=1000, description="live messages held back while the gap is read; beyond "
                          "this the oldest are applied at once, out of order")


class HistoryConfig(_Strict):
    """Where the twin reads history: the agent's embedded file, or InfluxDB (InfluxQL over /query: 1.x natively,
    2.x through the DBRP mapping of the bucket, 3.x through its v1 API). `history: FILE` is short for `path`."""

    path: Path | None = Field(None, description="the agent's embedded historian file (relative to the working "
                              "folder)")
    influxdb: InfluxSettings | None = Field(None, description="an InfluxDB server the agents write to")
    backfill: BackfillConfig = BackfillConfig()

    @model_validator(mode="after")
    def _one_store(self) -> HistoryConfig:
        if (self.path is None) == (self.influxdb is None):
            raise ValueError("give either path (the embedded historian file) or influxdb, not both or neither")
        return self


class TwinConfig(_Strict):
    plant: Path = Field(description="plant model YAML; relative paths are taken from this file's folder")
    clock: ClockConfig = Field(ClockConfig(), description="the plant clock: leave out for a real plant; a "
                                                          "simulator's speed and origin for a simulated one")
    max_future_s: float = Field(300.0, gt=0, description="refuse records stamped further ahead of the plant clock")
    broker: mqtt.BrokerConfig = mqtt.BrokerConfig()
    client_id: str = Field("factory-twin-service", description="MQTT client id; a random suffix is added per "
                           "instance, so no other client can take over the twin's subscription")
    feed_silence_s: float = Field(60.0, ge=0, description="no live UNS message for this long: health degraded, "
                                  "reconnect and subscribe again; 0: never")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest request body accepted (413 beyond), "
                                "checked before authentication and parsing")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    history: HistoryConfig | None = Field(None, description="the historian the agents write: history, replay, "
                                          "training, and the gaps of the live feed filled after a restart")
    oee: OeeConfig = OeeConfig()
    spc: list[SpcCharacteristicConfig] = Field(default_factory=list)
    anomaly: AnomalyConfig = AnomalyConfig()
    database: Path = Field(Path("twin.db"), description="the twin's own SQLite file (relative to the working "
                           "folder): live state, alerts, jobs, audit log, stop reasons; survives restarts")
    audit_key_env: str | None = Field(None, description="environment variable with a secret that keys the audit "
                                      "log's hash chain (HMAC-SHA256); without one the chain is plain SHA-256")
    auth: AuthConfig = AuthConfig()
    alerts: AlertsConfig = Field(AlertsConfig(), description="alert rules, notification targets, escalation, floods")
    rate_limits: RateLimitConfig = RateLimitConfig()
    jobs: JobsConfig = JobsConfig()
    control: ControlConfig | None = Field(None, description="commands to equipment: allow-list and OPC-UA endpoint")
    partition: PartitionConfig | None = Field(None, description="this instance's share of the lines; none: all")
    decisions: DecisionsConfig | None = Field(None, description="maintenance and speed decisions from the live "
                                              "state (twin/decisions.py); none: the twin does not decide")

    @field_validator("history", mode="before")
    @classmethod
    def _history_file(cls, value: object) -> object:
        return {"path": value} if isinstance(value, str | Path) else value


def load_twin(path: Path, env: Mapping[str, str] | None = None
              ) -> tuple[TwinConfig, PlantConfig, ShiftCalendarConfig | None]:
    """The twin's file and the files it names (relative to its folder), all validated before any I/O starts."""
    cfg = load_config(path, TwinConfig, env)
    plant = load_config(path.parent / cfg.plant, PlantConfig, env)
    calendar = load_config(path.parent / cfg.oee.calendar, ShiftCalendarConfig, env) if cfg.oee.calendar else None
    assets = {a.path: a for a in plant.assets()}
    problems = []
    for i, c in enumerate(cfg.spc):
        if c.asset not in assets:
            problems.append(f"spc[{i}].asset: {c.asset!r} is not an asset of the plant model")
        elif assets[c.asset].signal(c.signal) is None:
            problems.append(f"spc[{i}].signal: a {assets[c.asset].type} has no signal {c.signal!r}")
        if c.lsl is not None and c.usl is not None and c.lsl >= c.usl:
            problems.append(f"spc[{i}]: lsl ({c.lsl}) must be below usl ({c.usl})")
    problems += alert_problems(cfg.alerts, plant)
    if cfg.control is not None:
        for i, command in enumerate(cfg.control.commands):
            if not any(command.allows(a) for a in assets):
                problems.append(f"control.commands[{i}].assets: {command.assets} match no asset of the plant model")
    problems += _partition_problems(cfg, plant)
    if problems:
        raise ConfigError(path, problems)
    return cfg, plant, calendar


def alert_problems(alerts: AlertsConfig, plant: PlantConfig) -> list[str]:
    """Rules that could never fire on this plant: globs that match nothing, signals no matched asset has."""
    problems = []
    assets = list(plant.assets())
    paths = [a.path for a in assets] + [ln.path for ln in plant.lines()]
    for i, r in enumerate(alerts.rules):
        where = f"alerts.rules[{i}] ({r.id})"
        matched = [a for a in assets if any(fnmatch.fnmatchcase(a.path, g) for g in r.assets)]
        if not any(fnmatch.fnmatchcase(p, g) for p in paths for g in r.assets):
            problems.append(f"{where}.assets: {r.assets} match no asset of the plant model")
        signal = getattr(r, "signal", None)
        if r.type in ("threshold", "rul") and matched and not any(a.signal(str(signal)) for a in matched):
            types = sorted({str(a.type) for a in matched})
            problems.append(f"{where}.signal: none of the matched assets ({', '.join(types)}) has a signal {signal!r}")
    return problems


def _partition_problems(cfg: TwinConfig, plant: PlantConfig) -> list[str]:
    part = cfg.partition
    if part is None:
        return []
    problems = []
    if cfg.broker.protocol != "5":
        problems.append('broker.protocol: a partition uses MQTT 5 shared subscriptions; expected "5"')
    lines = {line.path for line in plant.lines()}
    owners: dict[str, str] = {}
    for where, owned in [("partition.lines", part.lines)] + [(f"partition.peers[{i}].lines", p.lines)
                                                             for i, p in enumerate(part.peers)]:
        for j, line in enumerate(owned):
            if line not in lines:
                problems.append(f"{where}[{j}]: {line!r} is not a line of the plant model "
                                f"(expected one of {', '.join(sorted(lines))})")
            elif line in owners:
                problems.append(f"{where}[{j}]: {line!r} is already owned by {owners[line]}")
            else:
                owners[line] = where
    return problems
